"""pybpf audit against real processes: known actions give exactly the expected events, kill
rules stop a forbidden binary before it does its work, policies reload, losses are counted."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from tests.vm import hook_absent

pytestmark = pytest.mark.kernel

TOOL = [sys.executable, "-m", "pybpf.cli", "audit", "--json"]
ENV = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "src"))


class Audit:
    """``pybpf audit --json`` in a child; events() reads what it printed so far."""

    def __init__(self, *args: str, prefix: tuple = ()):
        self.p = subprocess.Popen(TOOL + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=ENV, text=True, bufsize=1)
        self.seen: list[dict] = []
        self._buf = ""
        self.err = ""
        marker = f"ready-{uuid.uuid4().hex}"
        # a first start compiles the programs: slow in the emulated kernel-matrix guest
        deadline = time.monotonic() + (900 if os.environ.get("PYBPF_IN_VM") == "1" else 60)
        while time.monotonic() < deadline:
            subprocess.run([*prefix, "/bin/true", marker])
            if self.wait(lambda e: marker in e.get("argv", []), timeout=0.3):
                return
            assert self.p.poll() is None, self.p.stderr.read()
        raise AssertionError("audit never showed the readiness exec")

    def _read(self, timeout: float) -> None:
        r, _, _ = select.select([self.p.stdout, self.p.stderr], [], [], timeout)
        if self.p.stderr in r:
            self.err += os.read(self.p.stderr.fileno(), 65536).decode()
        if self.p.stdout in r:
            # raw reads, never readline(): lines left in a file object's buffer are invisible
            # to select() and to communicate() (a module event after an exec in one write
            # was lost that way)
            self._buf += os.read(self.p.stdout.fileno(), 65536).decode()
            *lines, self._buf = self._buf.split("\n")
            self.seen += [json.loads(x) for x in lines if x.strip()]

    def wait(self, pred, timeout: float = 10.0, n: int = 1) -> list[dict]:
        """Events matching ``pred`` once at least ``n`` came (or what came by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [e for e in self.seen if pred(e)]
            if len(hits) >= n:
                # let stragglers of the same action arrive
                end = time.monotonic() + 0.3
                while time.monotonic() < end:
                    self._read(0.05)
                return [e for e in self.seen if pred(e)]
            self._read(0.05)
        return [e for e in self.seen if pred(e)]

    def wait_err(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.err and time.monotonic() < deadline:
            self._read(0.05)
        assert text in self.err, self.err

    def stop(self) -> tuple[list[dict], str]:
        time.sleep(0.3)
        self.p.send_signal(signal.SIGINT)
        out, err = self.p.communicate(timeout=30)
        self.seen += [json.loads(x) for x in (self._buf + out).splitlines() if x.strip()]
        self.err += err
        assert self.p.returncode == 0, self.err
        return self.seen, self.err


@pytest.fixture
def audit_factory():
    made = []

    def make(*args, **kw):
        a = Audit(*args, **kw)
        made.append(a)
        return a
    yield make
    for a in made:
        if a.p.poll() is None:
            a.p.kill()
            a.p.wait()


def _my_cgroup_id() -> int:
    from pybpf.security.policy import cgroup_id
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return cgroup_id(line.strip()[3:] or "/")
    raise AssertionError("no cgroup v2 line")


def test_exec_event_has_argv_parents_credentials_and_cgroup(audit_factory):
    a = audit_factory("-e", "exec")
    marker = f"m-{uuid.uuid4().hex}"
    p = subprocess.run(["/bin/true", marker, "second arg"])
    assert p.returncode == 0
    evs = a.wait(lambda e: e["event"] == "exec" and marker in e["argv"])
    assert len(evs) == 1, evs
    e = evs[0]
    assert e["path"] == os.path.realpath("/bin/true")
    assert e["filename"] == "/bin/true"
    assert e["argv"] == ["/bin/true", marker, "second arg"]
    assert e["comm"] == "true" and e["ppid"] == os.getpid()
    assert e["parents"][0] == {"pid": os.getpid(), "comm": e["parents"][0]["comm"]}
    assert e["parents"][1]["pid"] == os.getppid()
    assert (e["uid"], e["euid"], e["gid"]) == (0, 0, 0)
    assert e["cgroup_id"] == _my_cgroup_id()
    assert e["rule"] is None and e["action"] is None
    assert not e["memfd"] and not e["deleted"]
    a.stop()


def test_opens_of_watched_paths_only_with_intent_and_real_path(audit_factory, tmp_path):
    watched = tmp_path / "watched"
    other = tmp_path / "other"
    watched.mkdir()
    other.mkdir()
    (watched / "ro").write_text("x")
    os.symlink(watched / "ro", other / "link")
    a = audit_factory("-e", "exec", "-w", f"{watched}/*")
    fd = os.open(watched / "marker", os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    with open(other / "link") as f:          # through a symlink outside the watch
        f.read()
    with open(other / "unwatched", "w"):
        pass
    cwd = os.getcwd()
    os.chdir(watched)
    try:
        rel = os.open("ro", os.O_RDWR)           # a relative path
        os.close(rel)
    finally:
        os.chdir(cwd)
    # the last open's event: the three come in order from this one thread
    a.wait(lambda e: e["event"] == "open" and e["pid"] == os.getpid()
           and e["flags"] & 3 == os.O_RDWR, timeout=20)
    time.sleep(0.3)
    evs = [e for e in a.stop()[0] if e["event"] == "open" and e["pid"] == os.getpid()]
    got = [(e["path"], e["access"], e["flags"] & 3) for e in evs]
    assert got == [(str(watched / "marker"), "write", os.O_WRONLY),
                   (str(watched / "ro"), "read", os.O_RDONLY),
                   (str(watched / "ro"), "read-write", os.O_RDWR)], got
    assert all(e["ret"] >= 0 for e in evs)


def test_connect_and_accept_on_loopback(audit_factory):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    a = audit_factory("-e", "connect,accept,exec")
    cli = socket.create_connection(("127.0.0.1", port))
    conn, peer = srv.accept()
    try:
        evs = a.wait(lambda e: e["event"] in ("connect", "accept")
                     and port in (e["rport"], e["lport"]) and e["pid"] == os.getpid())
        time.sleep(0.3)
        evs = [e for e in a.stop()[0] if e["event"] in ("connect", "accept")
               and port in (e["rport"], e["lport"]) and e["pid"] == os.getpid()]
        by = {e["event"]: e for e in evs}
        assert len(evs) == 2 and set(by) == {"connect", "accept"}, evs
        c, s = by["connect"], by["accept"]
        assert (c["raddr"], c["rport"], c["laddr"], c["lport"]) == \
            ("127.0.0.1", port, "127.0.0.1", cli.getsockname()[1])
        assert (s["laddr"], s["lport"], s["raddr"], s["rport"]) == \
            ("127.0.0.1", port, "127.0.0.1", peer[1])
        assert c["ret"] == 0 and s["ret"] == conn.fileno()
    finally:
        cli.close()
        conn.close()
        srv.close()


SETUID_C = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>
int main(void)
{
    if (setgid(65534) || setresuid(65534, 65534, 65534))
        return 1;
    if (setuid(0) == 0)          /* an unprivileged user may not: EPERM */
        return 2;
    return 0;
}
"""


@pytest.fixture(scope="module")
def setuid_binary(tmp_path_factory):
    d = tmp_path_factory.mktemp("setuid")
    (d / "s.c").write_text(SETUID_C)
    subprocess.run(["gcc", "-O1", "-o", str(d / "pt_setuid"), str(d / "s.c")], check=True)
    return str(d / "pt_setuid")


def test_privilege_changes_with_arguments_and_results(audit_factory, setuid_binary):
    a = audit_factory("-e", "priv,exec")
    p = subprocess.run([setuid_binary])
    assert p.returncode == 0
    a.wait(lambda e: e["event"] == "priv" and e["comm"] == "pt_setuid"
           and e["call"] == "setuid")
    evs = [e for e in a.stop()[0] if e["event"] == "priv" and e["comm"] == "pt_setuid"]
    got = [(e["call"], e["args"], e["ret"]) for e in evs]
    assert got == [("setgid", [65534], 0), ("setresuid", [65534, 65534, 65534], 0),
                   ("setuid", [0], -errno.EPERM)], got
    # credentials are those before each call
    assert [e["euid"] for e in evs] == [0, 0, 65534]


def test_bpf_program_load_and_ptrace_attach(audit_factory):
    from pybpf.programs import Program, ProgramSpec
    a = audit_factory("-e", "bpf,ptrace,exec")
    child = subprocess.Popen(["sleep", "30"])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    try:
        assert libc.ptrace(16, child.pid, None, None) == 0       # PTRACE_ATTACH
        os.waitpid(child.pid, 0)
        libc.ptrace(17, child.pid, None, None)                   # PTRACE_DETACH
        # r0 = 0; exit
        insns = bytes([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
        with Program.load(ProgramSpec("pt_audit_load", 1, insns)):
            pass
        evs = a.wait(lambda e: e["event"] == "bpf" and e.get("prog_name") == "pt_audit_load")
        assert len(evs) == 1 and evs[0]["cmd"] == "PROG_LOAD" and evs[0]["ret"] >= 0
        assert evs[0]["prog_type"] == 1 and evs[0]["pid"] == os.getpid()
        pt = a.wait(lambda e: e["event"] == "ptrace" and e["target_pid"] == child.pid)
        assert [(e["request"], e["ret"], e["pid"]) for e in pt] == \
            [("ATTACH", 0, os.getpid())]
    finally:
        child.kill()
        child.wait()
    a.stop()


def _policy(tmp_path, text: str, name: str = "policy.toml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_kill_rule_stops_the_forbidden_binary_before_it_writes(audit_factory, tmp_path):
    forbidden = tmp_path / "forbidden"
    shutil.copy("/usr/bin/touch", forbidden)
    script = tmp_path / "forbidden.sh"          # a script: matched by the name exec'd
    script.write_text(f"#!/bin/sh\ntouch {tmp_path}/script-marker\n")
    script.chmod(0o755)
    pol = _policy(tmp_path, f'[[rule]]\nname = "no-forbidden"\nevent = "exec"\n'
                  f'path = "{forbidden}"\naction = "kill"\n\n'
                  f'[[rule]]\nname = "no-script"\nevent = "exec"\n'
                  f'path = "{script}"\naction = "kill"\n')
    a = audit_factory("--policy", pol, "-e", "exec")
    marker = tmp_path / "marker"
    p = subprocess.run([str(forbidden), str(marker)])
    assert p.returncode == -signal.SIGKILL
    assert not marker.exists()
    p = subprocess.run([str(script)])
    assert p.returncode == -signal.SIGKILL
    assert not (tmp_path / "script-marker").exists()
    # an allowed binary doing the same is untouched
    assert subprocess.run(["/usr/bin/touch", str(tmp_path / "allowed")]).returncode == 0
    evs = a.wait(lambda e: e["event"] == "exec" and e["action"] == "kill", n=2)
    assert sorted((e["path"], e["filename"], e["rule"]) for e in evs) == sorted([
        (str(forbidden), str(forbidden), "no-forbidden"),
        (os.path.realpath("/bin/sh"), str(script), "no-script")]), evs
    a.stop()


MEMFD_EXEC = r"""
import os, sys
fd = os.memfd_create("pt_fileless", 0)
os.write(fd, open("/bin/true", "rb").read())
os.execv(f"/proc/self/fd/{fd}", ["fileless", sys.argv[1]])
"""


def test_exec_from_memfd_is_flagged_and_can_be_killed(audit_factory, tmp_path):
    pol = _policy(tmp_path, '[report]\nevents = ["exec"]\n\n[[rule]]\nname = "fileless"\n'
                  'event = "exec"\nmemfd = true\naction = "kill"\n')
    a = audit_factory("--policy", pol)
    marker = f"mfd-{uuid.uuid4().hex}"
    p = subprocess.run([sys.executable, "-c", MEMFD_EXEC, marker])
    assert p.returncode == -signal.SIGKILL
    evs = a.wait(lambda e: e["event"] == "exec" and e["argv"] == ["fileless", marker])
    assert len(evs) == 1, evs
    assert evs[0]["memfd"] and evs[0]["path"].startswith("/memfd:pt_fileless")
    assert (evs[0]["rule"], evs[0]["action"]) == ("fileless", "kill")
    a.stop()


def test_policy_reloads_on_sighup_and_a_bad_one_is_refused(audit_factory, tmp_path):
    forbidden = tmp_path / "forbidden"
    shutil.copy("/usr/bin/touch", forbidden)
    pol = _policy(tmp_path, '[report]\nevents = ["exec"]\n')
    a = audit_factory("--policy", pol)
    assert subprocess.run([str(forbidden), str(tmp_path / "m1")]).returncode == 0
    with open(pol, "w") as f:
        f.write(f'[report]\nevents = ["exec"]\n\n[[rule]]\nname = "now-forbidden"\n'
                f'event = "exec"\npath = "{forbidden}"\naction = "kill"\n')
    a.p.send_signal(signal.SIGHUP)
    a.wait_err("policy reloaded: 1 rules")
    assert subprocess.run([str(forbidden), str(tmp_path / "m2")]).returncode == -9
    assert not (tmp_path / "m2").exists()
    # a broken policy: refused with its line, the running one stays
    with open(pol, "w") as f:
        f.write('[[rule]]\nevent = "exec"\naction = "explode"\n')
    a.p.send_signal(signal.SIGHUP)
    a.wait_err(f"{pol}:3: unknown action 'explode'")
    assert subprocess.run([str(forbidden), str(tmp_path / "m3")]).returncode == -9
    _, err = a.stop()
    assert "Traceback" not in err


def test_bad_policy_is_refused_with_line_and_reason(tmp_path):
    pol = _policy(tmp_path, '[report]\nevents = ["exec"]\n\n[[rule]]\nname = "x"\n'
                  'event = "open"\npath = "relative/path"\n')
    p = subprocess.run(TOOL + ["--policy", pol], capture_output=True, text=True, env=ENV)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        f"pybpf audit: error: {pol}:7: 'relative/path' is not absolute (paths are matched "
        "as the kernel resolves them)"]


@pytest.fixture(scope="module")
def execstorm(tmp_path_factory):
    d = tmp_path_factory.mktemp("storm")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "exec_storm.c")
    subprocess.run(["gcc", "-O2", "-o", str(d / "execstorm"), src], check=True)
    return str(d / "execstorm")


def _own_cgroup(name: str) -> str:
    from pybpf.security.policy import cgroup2_root
    path = os.path.join(cgroup2_root(), name)
    os.mkdir(path)
    return path


def test_exec_storm_nothing_lost_uncounted(audit_factory, execstorm):
    """With the reader stopped, a storm overflows the ring buffer: every exec of the storm
    (its own cgroup, the only one reported) is either shown or counted lost."""
    cg = _own_cgroup(f"pt_audit_{os.getpid()}")
    try:
        inside = ("sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec "$@"', "sh")
        a = audit_factory("-e", "exec", "--cgroup", cg, prefix=inside)
        os.kill(a.p.pid, signal.SIGSTOP)
        n = 6000
        mark = "S" * 900           # big events: 4 MB of ring holds ~3500
        try:
            subprocess.run([*inside, execstorm, str(n), mark], check=True,
                           capture_output=True)
        finally:
            os.kill(a.p.pid, signal.SIGCONT)
        time.sleep(1.5)
        evs, err = a.stop()
    finally:
        os.rmdir(cg)
    shown = sum(1 for e in evs if e["event"] == "exec" and e["argv"] == ["/bin/true", mark])
    lost = sum(e["count"] for e in evs if e["event"] == "lost")
    assert lost > 0 and shown > 0, (shown, err)
    # the cgroup saw the storm's own exec too, and it was shown (the ring was empty then)
    assert any(e["event"] == "exec" and e["argv"][:1] == [execstorm] for e in evs)
    assert shown + lost == n, (shown, lost, err)
    assert f"lost {lost} events" in err or "lost" in err


@pytest.mark.needs_hook("lsm")
def test_deny_rule_makes_exec_fail_with_eperm(tmp_path):
    from pybpf.features import Features
    forbidden = tmp_path / "forbidden"
    shutil.copy("/usr/bin/touch", forbidden)
    pol = _policy(tmp_path, f'[[rule]]\nname = "never"\nevent = "exec"\npath = "{forbidden}"\n'
                  'action = "deny"\n')
    check = subprocess.run(TOOL + ["--policy", pol, "--check"], capture_output=True,
                           text=True, env=ENV, timeout=60)
    assert check.returncode == 0 and check.stdout == f"{pol}: ok, 1 rules\n", check
    if not Features().has_lsm():
        # --check parses only, and warns that here the policy would be refused at start
        assert check.stderr.startswith("audit: line 1: rule 'never': deny needs BPF LSM, "
                                       "which this kernel lacks ("), check.stderr
        assert len(check.stderr.splitlines()) == 1, check.stderr
        # this kernel refuses BPF LSM programs (EPERM): the policy is refused, in one line
        p = subprocess.run(TOOL + ["--policy", pol], capture_output=True, text=True, env=ENV,
                           timeout=120)
        assert p.returncode == 2, p
        assert p.stderr.strip().splitlines() == [
            f"pybpf audit: error: {pol}:1: rule 'never': deny needs BPF LSM, which this "
            "kernel refuses (Operation not permitted): boot with lsm=...,bpf and BPF "
            "trampolines, or use kill"], p.stderr
        hook_absent()
        return
    assert check.stderr == "", check.stderr
    a = Audit("--policy", pol, "-e", "exec")
    try:
        marker = tmp_path / "marker"
        with pytest.raises(PermissionError) as ei:
            subprocess.run([str(forbidden), str(marker)])
        assert ei.value.errno == errno.EPERM
        assert not marker.exists()
        assert subprocess.run(["/usr/bin/touch", str(tmp_path / "ok")]).returncode == 0
        evs = a.wait(lambda e: e["event"] == "exec" and e["path"] == str(forbidden))
        assert [(e["rule"], e["action"], e["ret"]) for e in evs] == \
            [("never", "deny", -errno.EPERM)], evs
    finally:
        a.stop()


def test_module_events_need_the_module_load_tracepoint():
    """Kernels without loadable modules (this host) have no module:module_load: the audit
    says so once and runs on; where the tracepoint exists it attaches without a word."""
    absent = not os.path.isdir("/sys/kernel/tracing/events/module")
    a = Audit("-e", "exec,module")
    _, err = a.stop()
    assert ("no module/module_load tracepoint on this kernel" in err) == absent, err


def _module_file(name: str) -> str | None:
    """The kernel's own build of module ``name`` (.ko, .ko.xz, .ko.zst), from modules.dep."""
    base = f"/lib/modules/{os.uname().release}"
    try:
        with open(f"{base}/modules.dep") as f:
            for line in f:
                path = line.split(":", 1)[0]
                if os.path.basename(path).split(".ko", 1)[0] == name:
                    return os.path.join(base, path)
    except OSError:
        pass
    return None


def _loaded(name: str) -> bool:
    with open("/proc/modules") as f:
        return any(line.split(" ", 1)[0] == name for line in f)


def _module_diagnosis() -> str:
    """What the guest had, for a failure message: the tracepoint's format, recent dmesg."""
    out = []
    try:
        with open("/sys/kernel/tracing/events/module/module_load/format") as f:
            out.append(f.read())
    except OSError as e:
        out.append(f"no format: {e}")
    d = subprocess.run(["dmesg"], capture_output=True, text=True)
    out.append("\n".join(d.stdout.splitlines()[-15:]))
    return "\n".join(out)


@pytest.mark.needs_hook("module")
def test_a_module_load_gives_one_event_with_its_loader_and_credentials():
    """insmod of the kernel's own `dummy` module (finit_module): exactly one module event,
    named `dummy`, from the insmod process (our child) with root credentials, no taint
    (an in-tree module signed by the kernel's key). Where the kernel has no loadable
    modules (this host), there is no hook: the audit says so."""
    if not os.path.isdir("/sys/kernel/tracing/events/module") or \
            not os.path.exists("/proc/modules"):
        a = Audit("-e", "exec,module")
        _, err = a.stop()
        assert "no module/module_load tracepoint on this kernel" in err, err
        hook_absent()
        return
    ko = _module_file("dummy")
    assert ko, f"no dummy module for {os.uname().release} under /lib/modules"
    if _loaded("dummy"):
        subprocess.run(["rmmod", "dummy"], check=True)
    a = Audit("-e", "exec,module")
    try:
        p = subprocess.Popen(["insmod", ko, "numdummies=0"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        out = p.communicate(timeout=120)[0]
        assert p.returncode == 0, (out, _module_diagnosis())
        assert _loaded("dummy")
        evs = a.wait(lambda e: e["event"] == "module", timeout=30)
        assert len(evs) == 1, (evs, _module_diagnosis())
        e = evs[0]
        assert (e["name"], e["pid"], e["comm"], e["ppid"]) == \
            ("dummy", p.pid, "insmod", os.getpid()), e
        assert (e["uid"], e["euid"], e["gid"]) == (0, 0, 0), e
        assert e["taints"] == 0, e
        assert e["cgroup_id"] == _my_cgroup_id(), e
        assert e["rule"] is None and e["action"] is None, e
    finally:
        if _loaded("dummy"):
            subprocess.run(["rmmod", "dummy"])
        evs, _ = a.stop()
    # the unload is no load event
    assert len([e for e in evs if e["event"] == "module"]) == 1, evs


def test_a_closed_pipe_ends_the_audit_quietly():
    """`pybpf audit | head -1`: the reader goes away, the audit ends quietly with 141 (the
    status of a C tool killed by SIGPIPE: the pybpf command's convention)."""
    p = subprocess.Popen(TOOL[:-1], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    first = p.stdout.readline()                 # the header
    assert first.startswith(b"TIME"), first
    p.stdout.close()
    deadline = time.monotonic() + 30
    while p.poll() is None and time.monotonic() < deadline:
        subprocess.run(["/bin/true", "pipe-test"])
        time.sleep(0.1)
    err = p.stderr.read().decode()
    assert p.wait(timeout=10) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
