"""``pybpf run`` on the real kernel: a small script written for bcc (``import bcc``,
``bcc.utils``, ``bcc.syscall``, table batch calls, histograms), and bcc's own tools as
Debian ships them (/usr/sbin/*-bpfcc, bcc 0.26), unchanged, each against a workload whose
numbers are known: N getppid calls by one process, N TCP connections to a known port,
N direct-I/O writes."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.vm import hook_absent

pytestmark = pytest.mark.kernel
PY = sys.executable
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
# unbuffered: the tests read a tool's banner while it runs (a pipe would hold it back)
ENV = dict(os.environ, PYTHONPATH=SRC, PYTHONUNBUFFERED="1")


def _tool(name: str) -> str:
    path = f"/usr/sbin/{name}-bpfcc"
    assert os.path.exists(path), f"{path} missing: scripts/setup installs bpfcc-tools"
    return path


class Running:
    """``pybpf run script args`` in the background; read its stdout until a marker."""

    def __init__(self, script: str, *args: str):
        self.p = subprocess.Popen([PY, "-m", "pybpf", "run", script, *args], env=ENV,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                   signal.SIG_DFL))
        self.out = ""
        os.set_blocking(self.p.stdout.fileno(), False)

    def wait_for(self, marker: str, timeout: float = 300) -> None:
        # generous: a first run in the emulated kernel-matrix guest compiles for a while
        end = time.monotonic() + timeout
        while marker not in self.out and time.monotonic() < end and self.p.poll() is None:
            r, _, _ = select.select([self.p.stdout], [], [], 0.2)
            if r:
                self.out += self.p.stdout.read() or ""
        if marker not in self.out:
            self.finish()
            raise AssertionError(f"no {marker!r} in output: {self.out!r} {self.err!r}")
        # the tool prints its banner just before the loop that handles ^C: let it get
        # there (on a busy machine it can be preempted in between)
        time.sleep(0.5)

    def finish(self, sig: int | None = signal.SIGINT, timeout: float = 30) -> int:
        if sig is not None and self.p.poll() is None:
            os.killpg(self.p.pid, sig)
        os.set_blocking(self.p.stdout.fileno(), True)
        try:
            rest, self.err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            rest, self.err = self.p.communicate()
        self.out += rest or ""
        return self.p.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.finish(signal.SIGKILL)


class Caller:
    """A process that makes ``n`` getppid calls each time it is told to."""

    CODE = ("import ctypes, os, sys\nlibc = ctypes.CDLL(None)\n"
            "zero = os.open('/dev/zero', os.O_RDONLY)\n"
            "for line in sys.stdin:\n"
            "    if line.startswith('r'):\n"
            "        for _ in range(int(line[1:])):\n            os.read(zero, 1)\n"
            "    else:\n"
            "        for _ in range(int(line)):\n            libc.getppid()\n"
            "    print('done', flush=True)\n")

    def __enter__(self):
        self.p = subprocess.Popen([PY, "-c", self.CODE], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.pid = self.p.pid
        return self

    def call(self, n: int, what: str = "") -> None:
        self.p.stdin.write(f"{what}{n}\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline() == "done\n"
        self.idle()

    def idle(self) -> None:
        """Wait until the caller sits in its next stdin read: 'done' is written before that
        read is entered, and on a loaded machine the read (a syscall a tracer counts) could
        otherwise land after the test's next step."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(f"/proc/{self.pid}/syscall") as f:
                if f.read().startswith("0 "):           # blocked in read(2)
                    return
            time.sleep(0.002)
        raise AssertionError("the caller never went back to reading its stdin")

    def __exit__(self, *exc):
        self.p.stdin.close()
        self.p.wait(timeout=10)


SCRIPT = r'''
import sys
import bcc
from bcc import BPF
from bcc.syscall import syscall_name, syscalls
from bcc.utils import printb, get_online_cpus

# only getppid: the caller's other syscalls (its next read of stdin) would race the drain
nr = {name: n for n, name in syscalls.items()}[b"getppid"]
b = BPF(text="""
BPF_HASH(calls, u32, u64);
BPF_HISTOGRAM(dist);
TRACEPOINT_PROBE(raw_syscalls, sys_enter) {
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET || args->id != NR)
        return 0;
    u32 nr = args->id;
    calls.increment(nr);
    dist.increment(bpf_log2l(nr + 1));
    return 0;
}
""".replace("TARGET", sys.argv[1]).replace("NR", str(nr)))
assert get_online_cpus()
printb(b"ready")
sys.stdin.readline()
for k, v in sorted(b["calls"].items_lookup_and_delete_batch(), key=lambda kv: kv[0].value):
    printb(b"%s %d" % (syscall_name(k.value), v.value))
printb(b"left %d" % len(b["calls"]))
b["dist"].print_log2_hist("nr")
b.cleanup()
'''


def test_bcc_style_script_runs_with_bcc_imports(tmp_path):
    script = tmp_path / "count.py"
    script.write_text(SCRIPT)
    with Caller() as c:
        p = subprocess.Popen([PY, "-m", "pybpf", "run", str(script), str(c.pid)], env=ENV,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            assert p.stdout.readline() == "ready\n", p.stderr.read()
            c.call(1234)
            out, err = p.communicate("go\n", timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert p.returncode == 0, err
    counts = dict(ln.rsplit(" ", 1) for ln in out.splitlines() if ln.startswith("getppid"))
    assert counts == {"getppid": "1234"}, out
    assert "left 0" in out                       # lookup-and-delete emptied the table
    # getppid is syscall 110 on x86-64: bucket log2(111) = 7 covers 64..127
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("64 -> 127"))
    assert int(line.split(":")[1].split("|")[0]) == 1234


SRC_FILE_SCRIPT = """
from bcc import BPF
b = BPF(src_file=b"prog.c")
print("slots", len(b["slots"]))
"""


def test_src_file_beside_the_script_and_its_header_in_the_cache_key(tmp_path):
    # bcc looks src_file up beside the script (bcc's task_switch.py, run from elsewhere),
    # and clang finds the file's own "" includes there; an edited header must miss the
    # build cache
    (tmp_path / "prog.c").write_text('#include "slots.h"\nBPF_ARRAY(slots, u64, SLOTS);\n')
    (tmp_path / "script.py").write_text(SRC_FILE_SCRIPT)

    def run() -> str:
        r = subprocess.run([PY, "-m", "pybpf", "run", str(tmp_path / "script.py")], env=ENV,
                           cwd="/", capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    (tmp_path / "slots.h").write_text("#define SLOTS 3\n")
    assert run() == "slots 3"
    (tmp_path / "slots.h").write_text("#define SLOTS 5\n")
    assert run() == "slots 5"


def test_syscount_counts_one_process_calls():
    with Caller() as c, Running(_tool("syscount"), "-p", str(c.pid)) as t:
        t.wait_for("Ctrl+C to quit")
        c.call(3000)
        rc = t.finish()
    assert rc == 0, t.err
    rows = {ln.split()[0]: int(ln.split()[1]) for ln in t.out.splitlines()
            if len(ln.split()) == 2 and ln.split()[1].isdigit()}
    assert rows.get("getppid") == 3000, t.out
    assert "SYSCALL                   COUNT" in t.out


def test_funccount_tracepoint_form_loads_pt_regs_function_as_tracepoint():
    with Caller() as c, Running(_tool("funccount"), "-p", str(c.pid),
                                "t:syscalls:sys_enter_getppid") as t:
        t.wait_for("Hit Ctrl-C to end")
        c.call(777)
        rc = t.finish()
    assert rc == 0, (t.out, t.err)
    row = [ln.split() for ln in t.out.splitlines() if "sys_enter_getppid" in ln
           and ln.split()[-1].isdigit()]
    assert row == [["syscalls:sys_enter_getppid", "777"]], t.out
    assert "FUNC                                    COUNT" in t.out


def test_tcpstates_sees_each_connection_to_a_known_port():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    try:
        with Running(_tool("tcpstates"), "-D", str(port)) as t:
            t.wait_for("C-PID")
            time.sleep(0.3)
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", port))
                a, _ = srv.accept()
                s.close()
                a.close()
            time.sleep(0.5)
            rc = t.finish()
    finally:
        srv.close()
    assert rc == 0, t.err
    rows = [ln.split() for ln in t.out.splitlines() if ln.split()[:1] != ["SKADDR"]]
    header = t.out.splitlines()[0].split()
    assert header[:10] == ["SKADDR", "C-PID", "C-COMM", "LADDR", "LPORT", "RADDR", "RPORT",
                           "OLDSTATE", "->", "NEWSTATE"], t.out
    trans = [(r[7], r[9]) for r in rows if len(r) >= 10 and r[6] == str(port)]
    assert trans.count(("CLOSE", "SYN_SENT")) == 5, t.out
    assert trans.count(("SYN_SENT", "ESTABLISHED")) == 5, t.out
    assert trans.count(("ESTABLISHED", "FIN_WAIT1")) == 5, t.out


def test_biolatency_runs_on_block_tracepoints_without_kprobes(tmp_path):
    from pybpf.features import Features
    kprobes = Features().has_kprobes()
    path = tmp_path / "data"
    with Running(_tool("biolatency"), "-Q") as t:
        t.wait_for("Hit Ctrl-C to end")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
        try:
            import mmap
            buf = mmap.mmap(-1, 65536)        # page-aligned, as O_DIRECT wants
            buf.write(b"x" * 65536)
            for i in range(20):
                os.pwrite(fd, buf, i * 65536)
                os.fsync(fd)
        finally:
            os.close(fd)
        rc = t.finish()
    assert rc == 0, t.err
    total = sum(int(ln.split(":")[1].split("|")[0]) for ln in t.out.splitlines()
                if "->" in ln and "|" in ln)
    assert total >= 20, t.out
    if not kprobes:
        assert t.err.count("runs on tracepoint block:block_io_start") == 1, t.err
        assert "usecs               : count     distribution" in t.out


@pytest.mark.needs_hook("kprobe")
def test_funccount_kprobe_form_counts_vfs_read():
    """A kprobe on a kernel function with no tracepoint: counts in the kernel-matrix
    guest; here (no kprobes, no trampolines) one line naming the function."""
    from pybpf.features import Features
    f = Features()
    with Caller() as c, Running(_tool("funccount"), "-p", str(c.pid), "vfs_read") as t:
        if not f.has_kprobes() and not f.has_trampolines():
            rc = t.finish(sig=None)
            # funccount prints any exception's text on stdout and exits 0, as with bcc
            assert rc == 0 and t.err == "", (t.out, t.err)
            assert t.out.count("\n") == 1 and "trace_count_0 on kprobe vfs_read" in t.out
            assert "no tracepoint stands in for vfs_read" in t.out
            hook_absent()
            return
        t.wait_for("Hit Ctrl-C to end")
        c.call(500, "r")
        rc = t.finish()
    assert rc == 0, t.err
    row = [ln.split() for ln in t.out.splitlines() if ln.split()[:1] == ["vfs_read"]]
    # 500 reads of /dev/zero, and the read of the next command it is blocked in
    assert row and 500 <= int(row[0][1]) <= 502, t.out


def _own_cgroup_id() -> int:
    with open("/proc/self/cgroup") as f:
        path = next(ln for ln in f if ln.startswith("0::")).strip()[3:]
    return os.stat("/sys/fs/cgroup" + path).st_ino     # cgroup v2: the id is the inode


def test_cgroupmap_filter_on_a_pinned_table(bpffs):
    """bcc.containers' --cgroupmap: the tool's table is the one pinned by the user."""
    import ctypes

    from pybpf.bcc import BPF, containers
    from pybpf.maps import Map

    class Args:
        cgroupmap = os.path.join(bpffs, "pt_cgmap")
        mntnsmap = None
    text = containers.filter_by_containers(Args()) + """
    BPF_ARRAY(hits, u64, 1);
    TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
        if (container_should_be_filtered())
            return 0;
        if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
            return 0;
        hits.increment(0);
        return 0;
    }
    """
    with Map.create(1, 8, 8, 16, name="pt_cgmap") as m, Caller() as c:    # a hash map
        m.pin(Args.cgroupmap)
        try:
            with BPF(text=text.replace("TARGET", str(c.pid))) as b:
                c.call(50)                     # our cgroup is not in the map: filtered
                assert b["hits"][0].value == 0
                cg = ctypes.c_uint64(_own_cgroup_id())
                m.update(bytes(cg), bytes(8))
                c.call(70)
                assert b["hits"][0].value == 70
                assert b["cgroupset"].map.id == m.info().id     # the pinned table itself
        finally:
            os.unlink(Args.cgroupmap)


STANDIN = r"""
struct ev_t { u32 pid; u32 child; u64 ip; };
BPF_PERF_OUTPUT(events);
BPF_STACK_TRACE(stacks, 64);
BPF_ARRAY(rets, u64, 2);

int kretprobe__sys_getppid(struct pt_regs *ctx) {
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    struct ev_t ev = {.pid = TARGET, .ip = PT_REGS_RC(ctx)};
    events.perf_submit(ctx, &ev, sizeof(ev));          // the real context, not a copy
    if (stacks.get_stackid(ctx, BPF_F_USER_STACK) >= 0)
        rets.increment(0);
    return 0;
}

int kprobe__sched_fork(struct pt_regs *ctx, u64 clone_flags, struct task_struct *p) {
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    struct ev_t ev = {.pid = TARGET, .child = p->tgid, .ip = PT_REGS_IP(ctx)};
    events.perf_submit(ctx, &ev, sizeof(ev));
    rets.increment(1);
    return 0;
}
"""


def test_stand_in_contexts_submit_through_the_real_one():
    """Without kprobes (here): a syscall kretprobe runs on sys_exit_getppid and a
    sched_fork kprobe on sched:sched_process_fork; their bodies see a stand-in pt_regs
    (return value, arguments, the function's address) and perf_submit/get_stackid get the
    real context."""
    import ctypes

    from pybpf.bcc import BPF
    libc = ctypes.CDLL(None)
    seen = []
    with BPF(text=STANDIN.replace("TARGET", str(os.getpid()))) as b:
        b["events"].open_perf_buffer(lambda cpu, data, size: seen.append(
            b["events"].event(data)))
        for _ in range(30):
            libc.getppid()
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            children.append(pid)
            os.waitpid(pid, 0)
        b.perf_buffer_poll(1000)
        b.perf_buffer_poll(100)
        counts = [b["rets"][i].value for i in range(2)]
        forks = [(e.child, b.ksym(e.ip)) for e in seen if e.child]
    rets = [e.ip for e in seen if e.child == 0]
    assert rets == [os.getppid()] * 30
    # another thread of this process may fork meanwhile (the kernel-matrix plugin's
    # compilers in CI): each fork counted was submitted, and ours are all there
    assert counts[0] == 30 and counts[1] == len(forks) >= 4
    # (with real kprobes the same holds: ip is inside sched_fork)
    # (per-CPU buffers: events of different CPUs come in CPU order, not time order)
    assert sorted(f for f in forks if f[0] in children) == \
        sorted((c, b"sched_fork") for c in children)


def test_syscall_entry_outside_the_syscall_table(capfd):
    """statsnoop attaches to __x64_sys_stat, which x86-64's syscall table lacks: with
    kprobes that probe never fires; without them there is no tracepoint, and pybpf keeps
    an idle attachment instead of failing the tool."""
    from pybpf.bcc import BPF
    from pybpf.features import Features
    with BPF(text="int f(struct pt_regs *ctx) { return 0; }") as b:
        event = b.get_syscall_fnname("stat")
        idle = not Features().has_kprobes() and not b.tracepoint_exists(
            "syscalls", "sys_enter_stat") and b.ksymname(event) != -1
        b.attach_kprobe(event=event, fn_name="f")
        assert b.num_open_kprobes() == 1
        b.detach_kprobe(event=event)
        assert b.num_open_kprobes() == 0
    err = capfd.readouterr().err
    assert ("is not in this kernel's system call table" in err) == idle, err


KMEM_TEXT = r"""
BPF_ARRAY(n, u64, 1);
int count_alloc(struct pt_regs *ctx) {
    if ((bpf_get_current_pid_tgid() >> 32) != PID)
        return 0;
    int zero = 0;
    u64 *v = n.lookup(&zero);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}
"""


@pytest.mark.needs_hook("kprobe")
def test_kprobe_on_a_function_the_kernel_lacks_runs_on_its_tracepoint(capfd):
    """kmem_cache_alloc is kmem_cache_alloc_noprof since 6.10: a kprobe on the old name
    (bcc tools attach it) runs on kmem:kmem_cache_alloc, on a kernel with kprobes (the
    guest; before, EINVAL from perf_event_open) as without them (here)."""
    from pybpf.bcc import BPF
    from pybpf.features import Features
    kprobes = Features().has_kprobes()
    with BPF(text=KMEM_TEXT.replace("PID", str(os.getpid()))) as b:
        assert b.ksymname("kmem_cache_alloc") == -1
        b.attach_kprobe(event="kmem_cache_alloc", fn_name="count_alloc")
        for _ in range(50):
            os.close(os.open("/dev/null", os.O_RDONLY))    # a struct file from filp's cache
        seen = b["n"][0].value
    err = capfd.readouterr().err
    assert seen >= 50, seen
    assert "count_alloc on kmem_cache_alloc runs on tracepoint kmem:kmem_cache_alloc" in err, err
    if kprobes:
        assert "kmem_cache_alloc takes no kprobe here (absent, inlined or untraceable)" \
            in err, err
    else:
        assert "no kprobes" in err, err
        hook_absent()
