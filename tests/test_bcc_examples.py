"""bcc's own tracing examples, as Debian ships them (bcc 0.26, bpfcc-tools:
/usr/share/doc/bpfcc-tools/examples), run unchanged under ``pybpf run`` against workloads
whose numbers are known: N forks of a helper process, N strlen calls on a marker string,
N mallocs of known sizes, N direct-I/O writes of a known size, a process busy in libc on
CPU 0 (build-id stacks), an IFUNC resolved the way the script does it.

Some examples trace the whole system (sync_timing, bitehist): other processes may add
events to theirs, so those assert that the helper's events are all there; the others key
their output by the helper's PID or stack and are exact.  (strlen_count keys by string in
a 10240-entry table that a concurrent compiler fills within a second: not tested here.)
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from tests import cbuild

from tests.test_bcc_run import ENV, PY, Running

pytestmark = pytest.mark.kernel
EXAMPLES = "/usr/share/doc/bpfcc-tools/examples"
MARKER = "pybpf-example-marker"


def _example(rel: str) -> str:
    path = os.path.join(EXAMPLES, rel)
    assert os.path.exists(path), f"{path} missing: scripts/setup installs bpfcc-tools"
    return path


class Helper:
    """A python process that waits for a line on stdin, runs ``code``, says "done" and
    stays until stdin closes (its maps stay readable for the script's symbols)."""

    def __init__(self, code: str):
        self.p = subprocess.Popen(
            [PY, "-c", "import sys\nsys.stdin.readline()\n" + code +
             "\nprint('done', flush=True)\nsys.stdin.read()\n"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.p.pid

    def go(self) -> None:
        """Run the code and wait until it is done."""
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline().strip() == "done"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class CHelper(Helper):
    """:class:`Helper`'s protocol for a compiled program ``argv``."""

    def __init__(self, *argv: str):
        self.p = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        self.pid = self.p.pid


# x86-64: poll, select, epoll_wait, pselect6, ppoll, epoll_pwait, epoll_pwait2
_POLLS = {7, 23, 232, 270, 271, 281, 441}


def _polling(r: Running, timeout: float = 120) -> None:
    """Until the script waits for events (its main thread blocked in a poll-family call).
    Scripts print their header before they open their perf buffer, and what the program
    sends before that is dropped: on a busy emulated guest that took longer than the
    half second wait_for allows."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and r.p.poll() is None:
        try:
            with open(f"/proc/{r.p.pid}/syscall") as f:
                nr = f.read().split()[0]
        except (OSError, IndexError):
            return
        if nr.isdigit() and int(nr) in _POLLS:
            return
        time.sleep(0.05)


def _read(r: Running, seconds: float) -> None:
    """Add what the script prints within ``seconds`` to ``r.out``."""
    import select
    end = time.monotonic() + seconds
    while time.monotonic() < end and r.p.poll() is None:
        if select.select([r.p.stdout], [], [], min(0.2, seconds))[0]:
            r.out += r.p.stdout.read() or ""


def _settle(r: Running, until=None, timeout: float = 20, grace: float = 0.7) -> None:
    """Let the events reach the script, then stop it: until ``until(output)`` holds (on a
    busy machine the script can lag its events by seconds), else for ``grace`` seconds."""
    end = time.monotonic() + (timeout if until else grace)
    while time.monotonic() < end and r.p.poll() is None and not (until and until(r.out)):
        _read(r, 0.2)
    if until:
        _read(r, 0.3)           # a few more lines would show an over-count
    r.finish()


def test_hello_perf_output_sees_each_fork_with_its_pid():
    n = 5

    def mine(out):
        return re.findall(rf"\s{h.pid}\s+Hello, perf_output!$", out, re.M)
    with Running(_example("tracing/hello_perf_output.py")) as r, \
            Helper(f"import os\nfor _ in range({n}):\n"
                   "    pid = os.fork()\n"
                   "    if pid == 0: os._exit(0)\n"
                   "    os.waitpid(pid, 0)\n") as h:
        r.wait_for("MESSAGE")
        h.go()
        _settle(r, lambda out: len(mine(out)) >= n)
    assert len(mine(r.out)) == n, r.out[-2000:] + r.err


def test_sync_timing_reports_quick_syncs():
    n = 4

    def quick(out):
        return re.findall(r"multiple syncs detected, last (\d+) ms ago", out)
    with Running(_example("tracing/sync_timing.py")) as r, \
            Helper(f"import os, time\nfor _ in range({n}):\n"
                   "    os.sync(); time.sleep(0.2)\n") as h:
        r.wait_for("Ctrl-C to end")
        h.go()
        _settle(r, lambda out: len(quick(out)) >= n - 1)
    ms = [int(m) for m in quick(r.out)]
    # each of the helper's syncs after its first comes within a second of the one before;
    # another process's syncs can only add lines (the program sees the whole system)
    assert len(ms) >= n - 1, r.out + r.err
    assert all(0 <= v < 1000 for v in ms)


def test_strlen_snoop_prints_each_call_of_the_pid():
    n = 7
    code = (f"import ctypes\nlibc = ctypes.CDLL(None)\nfor _ in range({n}):\n"
            f"    libc.strlen(b'{MARKER}')\n")
    with Helper(code) as h, Running(_example("tracing/strlen_snoop.py"), str(h.pid)) as r:
        r.wait_for("STRLEN")
        h.go()
        _settle(r, lambda out: out.count(MARKER) >= n)
    lines = [ln for ln in r.out.splitlines() if MARKER in ln]
    assert len(lines) == n, r.out[-2000:] + r.err
    assert all(re.search(rf"\s{h.pid}\s", ln) for ln in lines)


def test_mallocstacks_sums_the_sizes_of_one_process():
    # a C helper built with frame pointers: its calls share one stack (an interpreter's
    # ctypes calls unwind through frames without them, into stacks that vary per call)
    n, base = 20, 100000
    h = CHelper(cbuild.build("mallocer"), str(n), str(base))
    with h, Running(_example("tracing/mallocstacks.py"), str(h.pid)) as r:
        r.wait_for("Ctrl+C to quit")
        h.go()
        _settle(r, grace=0.3)
    want = sum(base + i for i in range(n))
    block = re.search(rf"^{want} bytes allocated at:\n((?:\t.*\n?)+)", r.out, re.M)
    assert block, r.out + r.err
    assert block[1].startswith("\tmalloc+0x0\n"), block[1]


def test_bitehist_histograms_direct_writes_of_a_known_size(tmp_path):
    n = 8
    with Running(_example("tracing/bitehist.py")) as r:
        r.wait_for("Hit Ctrl-C to end")
        subprocess.run(["dd", "if=/dev/zero", f"of={tmp_path}/f", "bs=256k", f"count={n}",
                        "oflag=direct", "conv=fsync"], check=True, capture_output=True)
        _settle(r, grace=0.3)
    # on 6.x kernels a request's remaining length is 0 when it completes (bcc's kprobe
    # reads the same field at the same point), so every write lands in the first bucket
    log2 = re.search(r"^\s+0 -> 1\s+: (\d+)\s", r.out, re.M)
    linear = re.search(r"^\s+0\s+: (\d+)\s", r.out, re.M)
    assert log2 and linear, r.out + r.err
    # the script prints its two histograms one after the other with its probe still
    # attached (bcc's alike): I/O of others completing between the two reads is in the
    # linear one only (a busy machine's writer: 671 after 669), never the other way
    assert int(log2.group(1)) >= n and int(linear.group(1)) >= int(log2.group(1))


def test_stack_buildid_example_names_libc_frames_by_build_id():
    # a process busy in read/write syscalls on CPU 0 (the example samples CPU 0 only):
    # its user stacks end in libc, which the example adds with add_module
    busy = subprocess.Popen(["dd", "if=/dev/zero", "of=/dev/null", "bs=1"],
                            preexec_fn=lambda: os.sched_setaffinity(0, {0}),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p = subprocess.run([PY, "-m", "pybpf", "run",
                            _example("tracing/stack_buildid_example.py")],
                           env=ENV, capture_output=True, text=True, timeout=120)
    finally:
        busy.kill()
        busy.wait()
    assert p.returncode == 0, p.stderr
    blocks = [b.splitlines() for b in p.stdout.split("\n\n") if b.strip()]
    dd = [b for b in blocks if re.search(rf"-\s+dd \({busy.pid}\)$", b[-2] if len(b) > 1
                                         else "")]
    assert dd, p.stdout[-3000:]
    frames = {ln.strip() for b in dd for ln in b[:-2]}
    # the syscall wrappers dd sits in, named from libc's symbols through its build id
    assert frames & {"read", "write", "__libc_read", "__libc_write", "__GI___libc_read",
                     "__GI___libc_write"}, frames
    # the files the example names that this machine lacks: one line each, not a traceback
    assert "Traceback" not in p.stderr


def test_strlen_hist_ifunc_finds_the_implementation_as_bcc_does():
    with Running(_example("tracing/strlen_hist_ifunc.py")) as r:
        # the resolver runs when a process binds strlen: start a few until it is seen
        end = time.monotonic() + 60
        while "function implementation offset" not in r.out and time.monotonic() < end \
                and r.p.poll() is None:
            subprocess.run(["true"])
            _read(r, 0.5)
        end = time.monotonic() + 30
        while "strlen return:" not in r.out and time.monotonic() < end \
                and r.p.poll() is None:
            _read(r, 0.5)
        r.finish()
    got = int(re.search(r"function implementation offset: (-?0x[0-9a-f]+)", r.out)[1], 16)
    from pybpf.links import symbols
    libc = symbols.resolve_path("c")
    # what the dynamic linker picked in this process, as a file offset of libc
    assert got == symbols.ifunc_target_offset(libc, "strlen"), r.out
    assert re.search(r"^\s+\d+ -> \d+\s+: \d+", r.out, re.M), r.out


def test_libbcc_functions_the_shim_lacks_fail_in_one_line(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("from bcc.libbcc import lib\nlib.bcc_usdt_new_frompid(1, None)\n")
    p = subprocess.run([PY, "-m", "pybpf", "run", str(script)], env=ENV,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert p.stderr.strip().count("\n") == 0 and "bcc_usdt_new_frompid" in p.stderr, p.stderr


def test_stacksnoop_on_a_syscall_function_prints_each_call_of_the_pid():
    n = 3
    from pybpf.bcc.bpf import BPF
    fn = BPF.get_syscall_fnname("sync").decode()
    with Helper(f"import os\nfor _ in range({n}):\n    os.sync()\n") as h, \
            Running(_example("tracing/stacksnoop.py"), "-v", "-p", str(h.pid), fn) as r:
        r.wait_for("FUNCTION")
        h.go()
        _settle(r, lambda out: out.count(f" {fn}\n") >= n)
    heads = re.findall(rf"^[\d.]+\s+python\S*\s+{h.pid}\s+\d+\s+{fn}$", r.out, re.M)
    assert len(heads) == n, r.out + r.err
    # each call's kernel stack, from the syscall entry (a kprobe, or here its tracepoint)
    assert r.out.count("\tentry_SYSCALL_64") == n, r.out


@pytest.mark.needs_hook("kprobe")
def test_stacksnoop_on_vfs_read():
    """A kprobe-only function: counted in the kernel-matrix guest; here one line naming
    it (no kprobes, no trampolines, no tracepoint inside vfs_read)."""
    from pybpf.features import Features
    n = 20
    f = Features()
    code = (f"import os\nfd = os.open('/dev/zero', os.O_RDONLY)\nfor _ in range({n}):\n"
            "    os.read(fd, 1)\n")
    with Helper(code) as h, \
            Running(_example("tracing/stacksnoop.py"), "-p", str(h.pid), "vfs_read") as r:
        if not f.has_kprobes() and not f.has_trampolines():
            assert r.finish(sig=None) == 1
            assert r.err.strip().count("\n") == 0, r.err
            assert "no tracepoint stands in for vfs_read" in r.err
            from tests.vm import hook_absent
            hook_absent()
            return
        r.wait_for("FUNCTION")
        _polling(r)
        h.go()
        _settle(r, lambda out: out.count(" vfs_read\n") >= n)
    # the helper's reads, and perhaps its last read of stdin (it waits there to exit)
    assert n <= r.out.count(" vfs_read\n") <= n + 2, r.out + r.err


def test_uprobe_at_an_address_outside_the_file_is_one_line(tmp_path):
    # what strlen_hist_ifunc computes when its first probes see something else
    script = tmp_path / "s.py"
    script.write_text("from bcc import BPF\n"
                      "b = BPF(text='int f(struct pt_regs *ctx) { return 0; }')\n"
                      "b.attach_uretprobe(name='c', addr=-0x7f0000000000, fn_name='f')\n")
    p = subprocess.run([PY, "-m", "pybpf", "run", str(script)], env=ENV,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    assert p.stderr.strip().count("\n") == 0, p.stderr
    assert "could not determine address -0x7f0000000000" in p.stderr
