"""Each built-in example served by ``pybpf exporter`` over HTTP, with a workload whose
effect is known, checked on /metrics: exec counts, syscall latency, block I/O latency on a
loop device, a TCP SYN retransmit, TCP state changes of one port (the tcp program with a
global set from the config), run-queue latency and OOM kills in a memory-limited cgroup."""

from __future__ import annotations

import mmap
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from tests.exporter_helpers import ExporterProcess, scratch_dir, value
from tests.cgroups import remove_cgroup

pytestmark = pytest.mark.kernel

scratch = pytest.fixture(scratch_dir)

BUILTINS = "exec,syscalls,biolatency,tcp,runqlat,oomkill"


@pytest.fixture(scope="module")
def listener_port():
    """A port for the TCP state test, found free (the listener binds it again later)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def exporter(listener_port):
    """One exporter with every built-in, plus the tcp program again with target_port set
    (a config of our own using the built-in source and its globals)."""
    from pybpf.exporter.config import EXAMPLES_DIR
    gen = scratch_dir()
    d = next(gen)
    with open(os.path.join(EXAMPLES_DIR, "tcp.yaml")) as f:
        tcp = yaml.safe_load(f)
    states = tcp["metrics"]["counters"][1]
    states["name"] = "pt_tcp_port_state_changes_total"
    cfg = d / "tcpport.yaml"
    cfg.write_text(yaml.safe_dump({"programs": [{
        "name": "tcpport", "source": os.path.join(EXAMPLES_DIR, "tcp.bpf.c"),
        "globals": {"target_port": listener_port},
        "metrics": {"counters": [states]}}]}))
    try:
        with ExporterProcess("--config", BUILTINS, "--config", str(cfg), "--bpf-stats") as ex:
            yield ex
    finally:
        gen.close()


def test_exec_counts_by_command(exporter, scratch):
    marker = f"pt-ex{os.getpid()}"[:15]
    shutil.copy("/bin/true", scratch / marker)
    before = exporter.samples()
    runs_before = value(before, "pybpf_exporter_program_runs_total", program="exec",
                        function="count_exec")
    for _ in range(7):
        subprocess.run([str(scratch / marker)], check=True)
    after = exporter.samples()
    assert value(before, "ebpf_exec_total", comm=marker) == 0
    assert value(after, "ebpf_exec_total", comm=marker) == 7
    # health: the kernel counted the program's runs (--bpf-stats)
    assert value(after, "pybpf_exporter_bpf_stats_enabled") == 1
    assert value(after, "pybpf_exporter_program_runs_total", program="exec",
                 function="count_exec") >= runs_before + 7
    assert value(after, "pybpf_exporter_map_max_entries", program="exec",
                 map="exec_counts") == 10240
    assert value(after, "pybpf_exporter_series", metric="ebpf_exec_total") >= 1
    assert value(after, "pybpf_exporter_scrape_maps_seconds") > 0


def test_syscall_latency_histogram(exporter):
    name = "ebpf_syscall_latency_seconds"
    before = exporter.samples()
    for _ in range(5):             # rt_sigtimedwait: 20 ms each, rarely called otherwise
        assert signal.sigtimedwait([signal.SIGUSR2], 0.020) is None
    after = exporter.samples()

    def delta(sample, **lb):
        return value(after, sample, syscall="rt_sigtimedwait", **lb) - \
            value(before, sample, syscall="rt_sigtimedwait", **lb)
    assert delta(name + "_count") == 5
    assert delta(name + "_bucket", le="0.016384") == 0     # none faster than 16 ms
    assert delta(name + "_bucket", le="0.065536") == 5
    assert delta(name + "_bucket", le="+Inf") == 5
    assert 0.0999 <= delta(name + "_sum") < 0.5       # 5 x at least 20 ms


@pytest.fixture
def loop_device(scratch):
    backing = scratch / "disk.img"
    backing.write_bytes(os.urandom(1 << 20))
    dev = subprocess.run(["losetup", "--find", "--show", str(backing)], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def _reads_completed(disk: str) -> int:
    """The kernel's own count of read requests completed on a disk (/sys/block/*/stat)."""
    with open(f"/sys/block/{disk}/stat") as f:
        return int(f.read().split()[0])


def test_block_io_latency_per_disk(exporter, loop_device):
    name = "ebpf_bio_latency_seconds"
    disk = os.path.basename(loop_device)
    # udev may probe a new disk: wait until nobody else reads it
    last, quiet_since, deadline = _reads_completed(disk), time.monotonic(), \
        time.monotonic() + 10
    while time.monotonic() - quiet_since < 0.5 and time.monotonic() < deadline:
        time.sleep(0.05)
        now = _reads_completed(disk)
        if now != last:
            last, quiet_since = now, time.monotonic()
    before, kernel_before = exporter.samples(), _reads_completed(disk)
    fd = os.open(loop_device, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 4096)                # O_DIRECT wants an aligned buffer
    try:
        for i in range(9):                   # 9 reads, 9 requests: no two are adjacent
            assert os.preadv(fd, [buf], i * 65536) == 4096
    finally:
        os.close(fd)
        buf.close()
    after, kernel_after = exporter.samples(), _reads_completed(disk)
    got = value(after, name + "_count", device=disk, operation="read") - \
        value(before, name + "_count", device=disk, operation="read")
    # exactly our 9, and exactly what the kernel's disk statistics counted
    assert got == kernel_after - kernel_before == 9
    assert value(after, name + "_bucket", device=disk, operation="read", le="+Inf") - \
        value(before, name + "_bucket", device=disk, operation="read", le="+Inf") == 9


def test_tcp_syn_retransmit(exporter):
    """A listener whose accept queue is full drops the next SYN: the client retransmits
    it once at 1 s (TCP_SYNCNT=1 allows no more), to an address only this test uses."""
    addr = f"127.38.{os.getpid() % 250}.{1 + os.getpid() // 250 % 250}"
    before = exporter.samples()
    srv = socket.socket()
    srv.bind((addr, 0))
    srv.listen(0)
    a = socket.create_connection(srv.getsockname())       # fills the accept queue
    b = socket.socket()
    b.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)
    b.setblocking(False)
    name = "ebpf_tcp_retransmits_total"
    try:
        assert b.connect_ex(srv.getsockname()) in (115,)   # EINPROGRESS
        # the retransmit is due at 1 s: wait for it to be counted (a loaded machine can
        # be late), the connect still pending
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if value(exporter.samples(), name, daddr=addr, state="SYN_SENT"):
                break
    finally:
        for s in (b, a, srv):
            s.close()
    after = exporter.samples()
    assert value(before, name, daddr=addr, state="SYN_SENT") == 0
    assert value(after, name, daddr=addr, state="SYN_SENT") == 1


def test_tcp_state_changes_of_one_port(exporter, listener_port):
    name = "pt_tcp_port_state_changes_total"
    before = exporter.samples()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listener_port))
    srv.listen(8)
    for _ in range(3):
        c = socket.create_connection(("127.0.0.1", listener_port))
        s, _ = srv.accept()
        c.close()
        s.close()
    srv.close()
    after = exporter.samples()

    def delta(old, new):
        return value(after, name, old_state=old, new_state=new) - \
            value(before, name, old_state=old, new_state=new)
    assert delta("CLOSE", "LISTEN") == 1
    assert delta("CLOSE", "SYN_SENT") == 3
    assert delta("SYN_SENT", "ESTABLISHED") == 3
    assert delta("SYN_RECV", "ESTABLISHED") == 3


def test_run_queue_latency(exporter):
    name = "ebpf_run_queue_latency_seconds"
    before = exporter.samples()
    for _ in range(50):            # each sleep ends in a wake-up, then a switch to us
        time.sleep(0.001)
    after = exporter.samples()
    count = value(after, name + "_count") - value(before, name + "_count")
    assert count >= 50
    assert value(after, name + "_bucket", le="+Inf") == value(after, name + "_count")
    les = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                 if k[0] == name + "_bucket")
    assert [v for _, v in les] == sorted(v for _, v in les)     # cumulative
    assert value(after, name + "_sum") > value(before, name + "_sum")


def _memory_cgroup(name: str) -> tuple[str, str]:
    """A memory-limited cgroup (v2, else v1): (its directory, its procs file)."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        d = f"/sys/fs/cgroup/{name}"
        os.mkdir(d)
        if not os.path.exists(f"{d}/memory.max"):   # the controller is off below the root
            with open("/sys/fs/cgroup/cgroup.subtree_control", "w") as f:
                f.write("+memory")
        with open(f"{d}/memory.max", "w") as f:
            f.write(str(64 << 20))
        if os.path.exists(f"{d}/memory.swap.max"):
            with open(f"{d}/memory.swap.max", "w") as f:
                f.write("0")
        return d, f"{d}/cgroup.procs"
    d = f"/sys/fs/cgroup/memory/{name}"
    os.mkdir(d)
    with open(f"{d}/memory.limit_in_bytes", "w") as f:
        f.write(str(64 << 20))
    return d, f"{d}/cgroup.procs"


HOG = """
import ctypes, sys
with open(sys.argv[1], "w") as f:
    f.write("0")                                   # this process joins the cgroup
ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)     # PR_SET_NAME
hog = b"x" * (512 << 20)                           # touches every page: the cgroup OOMs
"""


def test_oom_kills_by_command(exporter):
    comm = f"pt-oom{os.getpid()}"[:15]
    cg, procs = _memory_cgroup(f"pt-exporter-{os.getpid()}")
    try:
        before = exporter.samples()
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", HOG, procs, comm],
                               capture_output=True, timeout=60)
            assert r.returncode == -signal.SIGKILL, r.stderr
        after = exporter.samples()
    finally:
        remove_cgroup(cg)
    assert value(before, "ebpf_oom_kills_total", comm=comm) == 0
    assert value(after, "ebpf_oom_kills_total", comm=comm) == 2


def test_index_and_unknown_paths(exporter):
    import urllib.error
    import urllib.request
    base = exporter.url.rsplit("/", 1)[0]
    with urllib.request.urlopen(base + "/", timeout=10) as r:
        assert b'href="/metrics"' in r.read()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(base + "/nope", timeout=10)
    assert e.value.code == 404


def test_stops_cleanly_on_sigterm():
    with ExporterProcess("--config", "exec") as ex:
        assert "ebpf_exec_total" in ex.text()
        assert ex.stop() == 0


def test_a_kept_alive_connection_blocks_no_one(exporter):
    import http.client
    held = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=10)
    try:
        held.request("GET", "/metrics")
        r = held.getresponse()
        assert r.status == 200 and r.getheader("Connection") != "close"
        r.read()                       # the connection stays open, as Prometheus keeps it
        assert "ebpf_exec_total" in exporter.text()
        held.request("GET", "/metrics")
        assert held.getresponse().status == 200
    finally:
        held.close()


def test_gzip_when_asked(exporter):
    import gzip
    import urllib.request
    req = urllib.request.Request(exporter.url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        text = gzip.decompress(r.read()).decode()
    assert "# TYPE ebpf_exec_total counter" in text
