"""The examples (examples/<name>/<name>.py) run against known workloads, output checked."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
pytestmark = pytest.mark.kernel


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _start(name: str, *args: str) -> subprocess.Popen:
    """Start an example; return once it printed its first line (attached)."""
    p = subprocess.Popen([sys.executable, str(EX / name / f"{name}.py"), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=_env())
    first = p.stdout.readline()
    if not first:
        p.wait(10)
        pytest.fail(f"{name} ended before attaching: {p.stderr.read()}")
    p.first_line = first
    return p


def _stop(p: subprocess.Popen, settle: float = 0.3) -> str:
    """SIGINT the example (its Ctrl-C path) and return the rest of its output; ``settle``
    seconds first lets the last events reach user space (0: the example itself must show
    what was in its ring when the signal came)."""
    time.sleep(settle)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    return out


def _run(name: str, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(EX / name / f"{name}.py"), *args],
                       capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    return r


def test_minimal_counts_its_own_writes():
    r = _run("minimal", "-n", "4", "-i", "0.01")
    assert "Successfully started" in r.stdout
    assert r.stderr == "...."
    # the 4 dots plus the "Successfully started" line (stdout is a pipe: one write)
    assert "the program saw 4 writes of the dots" in r.stdout


def test_minimal_ns_in_a_new_pid_namespace():
    argv = ["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
            str(EX / "minimal_ns" / "minimal_ns.py"), "-n", "3", "-i", "0.01"]
    r = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert re.search(r"pid 1 in pid namespace \d+", r.stdout)   # pid 1 inside, not outside
    assert "the program saw 3 writes of the dots" in r.stdout


def test_bootstrap_reports_exec_and_exit_with_exit_code():
    p = _start("bootstrap")
    assert p.first_line.split() == ["TIME", "EVENT", "COMM", "PID", "PPID",
                                    "FILENAME/EXIT", "CODE"]
    child = subprocess.Popen(["/bin/sh", "-c", "exit 3"])
    child.wait()
    out = _stop(p)
    lines = [ln.split() for ln in out.splitlines()]
    mine = [ln for ln in lines if len(ln) > 3 and ln[3] == str(child.pid)]
    exec_ = [ln for ln in mine if ln[1] == "EXEC"]
    exit_ = [ln for ln in mine if ln[1] == "EXIT"]
    assert exec_ and exec_[0][2] == "sh" and exec_[0][4] == str(os.getpid())
    assert exec_[0][5] == "/bin/sh"
    assert exit_ and exit_[0][5] == "[3]" and re.fullmatch(r"\(\d+ms\)", exit_[0][6])


def test_bootstrap_min_duration_reports_only_long_exits():
    p = _start("bootstrap", "-d", "300")
    short = subprocess.Popen(["/bin/true"])
    long_ = subprocess.Popen(["/bin/sleep", "0.5"])
    short.wait(), long_.wait()
    out = _stop(p)
    pids = {ln.split()[3]: ln.split()[1] for ln in out.splitlines() if len(ln.split()) > 3}
    assert pids.get(str(long_.pid)) == "EXIT" and str(short.pid) not in pids
    assert " EXEC " not in out


def test_uprobe_sees_libc_calls():
    r = _run("uprobe", "-n", "3", "-i", "0.01")
    assert "Successfully started! 4 links" in r.stdout
    for i in range(3):
        assert f"round {i}: abs({-i}) = {i}, labs({-1000 * i}) = {1000 * i}" in r.stdout
    assert "calls seen: abs 3, labs 3" in r.stdout


def test_usdt_reads_python_gc_generations():
    py = "/usr/bin/python3.11"
    assert os.path.exists(py), "Debian's python3.11 (it has USDT probes) is missing"
    child = subprocess.Popen([py, "-c", "import gc, sys; sys.stdin.readline(); "
                              "gc.collect(0); gc.collect(1); gc.collect(2)"],
                             stdin=subprocess.PIPE)
    p = _start("usdt", "--pid", str(child.pid))
    child.communicate(b"\n")
    out = _stop(p, settle=0)         # the events are in the ring: Ctrl-C must not lose them
    got = re.findall(rf"pid {child.pid}: gc__start generation (\d) \((auto|by hand, "
                     rf"cookie 0xcafe)\)", out)
    for how in ("auto", "by hand, cookie 0xcafe"):
        assert {g for g, h in got if h == how} >= {"0", "1", "2"}, out[-2000:]


@pytest.fixture
def netns():
    """A fresh network namespace with lo up: tc tests there meet no other filter on lo
    (a benchmark's, another test's) and leave none behind."""
    ns = f"pybpf-ex-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _start_in(ns: str, name: str, *args: str) -> subprocess.Popen:
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable,
                          str(EX / name / f"{name}.py"), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=_env())
    p.first_line = p.stdout.readline()
    if not p.first_line:
        p.wait(10)
        pytest.fail(f"{name} ended before attaching: {p.stderr.read()}")
    return p


def _tc_ways():
    """clsact, and tcx where the kernel has tcx links (6.6+; before, the example says so)."""
    from pybpf.kernelid import release_tuple
    return [pytest.param([], id="clsact")] + \
        ([pytest.param(["--tcx"], id="tcx")] if release_tuple() >= (6, 6) else [])


@pytest.mark.parametrize("how", _tc_ways())
def test_tc_counts_udp_packets_on_lo(netns, how):
    p = _start_in(netns, "tc", "--iface", "lo", "--port", "9999", *how)
    assert f"entering lo ({'tcx' if how else 'tc'})" in p.first_line
    send = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for _ in range(3):\n    s.sendto(b'x' * 10, ('127.0.0.1', 9999))\n")
    subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", send], check=True)
    out = _stop(p)
    # 14 (ethernet) + 20 (IP) + 8 (UDP) + 10 bytes each
    assert "3 packets (156 bytes) to port 9999; last: tot_len 38, ttl 64" in out


def test_sockfilter_reports_addresses_and_ports():
    p = _start("sockfilter", "--iface", "lo")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        tx.bind(("127.0.0.1", 0))
        tx.sendto(b"hello", rx.getsockname())
        sport, dport = tx.getsockname()[1], rx.getsockname()[1]
    out = _stop(p, settle=0)
    assert (f"interface: lo\tprotocol: UDP\t127.0.0.1:{sport}(src) -> "
            f"127.0.0.1:{dport}(dst)") in out


def test_task_iter_lists_a_known_process():
    child = subprocess.Popen(["/bin/sleep", "30"])
    try:
        time.sleep(0.2)
        r = _run("task_iter", "--pid", str(child.pid))
    finally:
        child.kill()
        child.wait()
    rows = [ln.split() for ln in r.stdout.splitlines()[1:]]
    assert len(rows) == 1
    pid, tid, state, comm, frames = rows[0][:5]
    assert (pid, tid, comm) == (str(child.pid), str(child.pid), "sleep")
    assert int(state) & 1 and int(frames) > 0      # TASK_INTERRUPTIBLE: asleep in the kernel


def test_profile_samples_a_busy_process():
    p = _start("profile", "-F", "199")
    busy = subprocess.Popen(["/bin/sh", "-c", "i=0; while [ $i -lt 400000 ]; do "
                             "i=$((i+1)); done"])
    busy.wait(60)
    out = _stop(p)
    samples = re.findall(rf"COMM: sh \(pid={busy.pid}\) @ CPU \d+\n", out)
    assert len(samples) >= 3, out[-1500:]


def test_interrupt_when_started_with_sigint_ignored():
    """A script's background job starts with SIGINT ignored, and Python keeps it so: the
    examples install their handler as the C ones do, so Ctrl-C still ends them cleanly."""
    p = subprocess.Popen([sys.executable, str(EX / "bootstrap" / "bootstrap.py")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=_env(), preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                      signal.SIG_IGN))
    assert p.stdout.readline().startswith("TIME")
    child = subprocess.Popen(["/bin/true"])
    child.wait()
    out = _stop(p)                                 # SIGINT; exit status 0 checked there
    assert re.search(rf"EXIT +true +{child.pid} ", out), out[-2000:]


def test_tc_killed_removes_its_filter(netns):
    """SIGTERM takes the Ctrl-C path too: the clsact filter (which, unlike a tcx link,
    outlives the process) and the qdisc it made are removed."""
    p = _start_in(netns, "tc", "--iface", "lo")
    assert "entering lo (tc)" in p.first_line
    shown = subprocess.run(["ip", "netns", "exec", netns, "tc", "filter", "show", "dev",
                            "lo", "ingress"], capture_output=True, text=True).stdout
    assert "tc_ingress" in shown
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "0 packets" in out
    qdiscs = subprocess.run(["ip", "netns", "exec", netns, "tc", "qdisc", "show", "dev",
                             "lo"], capture_output=True, text=True).stdout
    assert "clsact" not in qdiscs


@pytest.mark.parametrize("name, args", [("minimal", ["-n", "1", "-i", "0.01"]),
                                        ("task_iter", ["--pid=1"])])
def test_a_plain_command_line_imports_no_argparse(name, args):
    """pybpf.options answers the examples' plain command lines: a warm start (second
    run: compile cache and load plan) imports neither argparse nor re."""
    for _ in range(2):
        r = subprocess.run([sys.executable, str(EX / name / f"{name}.py"), *args],
                           capture_output=True, text=True, timeout=120,
                           env={**_env(), "PYTHONPROFILEIMPORTTIME": "1"})
        assert r.returncode == 0, r.stderr[-2000:]
    imported = {ln.rsplit("|", 1)[1].strip() for ln in r.stderr.splitlines()
                if ln.startswith("import time:") and "|" in ln}
    assert "pybpf.options" in imported and not {"argparse", "re"} & imported
