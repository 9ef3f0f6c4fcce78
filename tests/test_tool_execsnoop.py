"""pybpf execsnoop against real processes: every option, exact fields."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.kernel

TOOL = [sys.executable, "-m", "pybpf.cli", "execsnoop"]
HEADER_RE = re.compile(r"COMM\s+PID\s+(PCOMM\s+)?PPID\s+(CPU\s+)?RET\s+ARGS")


# execsnoop as it runs on a kernel before 5.12 (no task storage for tracing programs):
# the same command with the kernel's release read as 5.10, so it loads the *_hash programs
OLD_KERNEL_TOOL = [sys.executable, "-c",
                   "import sys, pybpf.kernelid as k\n"
                   "k.release_tuple = lambda release=None: (5, 10)\n"
                   "from pybpf.cli import main\n"
                   "sys.exit(main(['execsnoop'] + sys.argv[1:]))"]


class Snoop:
    """Run execsnoop with ``args``; ``lines()`` stops it and returns its output lines."""

    def __init__(self, *args: str, ready_marker: bool = False, tool=TOOL):
        self.args = args
        self.p = subprocess.Popen(tool + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        self.out: list[str] = []
        if ready_marker:
            self._wait_marker()
        else:
            self._wait_header()

    def _readline(self, deadline: float) -> str:
        import select
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stdout], [], [], 0.05)
            if r:
                line = self.p.stdout.readline()
                if not line:
                    break
                return line.rstrip("\n")
            if self.p.poll() is not None:
                break
        err = self.p.stderr.read() if self.p.poll() is not None else ""
        raise AssertionError(f"execsnoop produced no line in time; stderr: {err}")

    def _wait_header(self) -> None:
        line = self._readline(time.monotonic() + 60)
        assert HEADER_RE.search(line), line
        self.header = line

    def _wait_marker(self) -> None:
        marker = f"READY{os.getpid()}"
        deadline = time.monotonic() + 60
        import select
        while time.monotonic() < deadline:
            subprocess.run(["/bin/true", marker])
            r, _, _ = select.select([self.p.stdout], [], [], 0.1)
            if r:
                line = self.p.stdout.readline()
                if marker in line:
                    return
                self.out.append(line.rstrip("\n"))
            assert self.p.poll() is None, self.p.stderr.read()
        raise AssertionError("execsnoop never showed the readiness marker")

    def stop(self) -> tuple[list[str], str]:
        time.sleep(0.4)   # let the last poll round deliver
        self.p.send_signal(signal.SIGINT)
        rest, err = self.p.communicate(timeout=20)
        assert self.p.returncode == 0, err
        return self.out + rest.splitlines(), err


def _rows(lines, needle):
    return [ln for ln in lines if needle in ln]


def test_basic_columns_and_args_with_spaces_and_quotes():
    s = Snoop()
    tag = f"t{os.getpid()}"
    subprocess.run(["/bin/echo", tag, "two words", 'a "quoted" arg'], stdout=subprocess.DEVNULL)
    lines, _ = s.stop()
    rows = _rows(lines, tag)
    assert len(rows) == 1, lines
    # PCOMM PID PPID RET ARGS, as bcc prints them
    m = re.match(r"^(\S+)\s+(\d+)\s+(\d+)\s+(-?\d+)\s+(.*)$", rows[0])
    assert m, rows[0]
    assert m.group(1) == "echo"
    assert int(m.group(3)) == os.getpid()
    assert m.group(4) == "0"
    assert m.group(5) == f'/bin/echo {tag} two words a "quoted" arg'
    assert s.header.split() == ["PCOMM", "PID", "PPID", "RET", "ARGS"]


def test_quote_option():
    s = Snoop("-q")
    tag = f"q{os.getpid()}"
    subprocess.run(["/bin/true", tag, 'say "hi"'])
    lines, _ = s.stop()
    (row,) = _rows(lines, tag)
    assert row.endswith(f'"/bin/true" "{tag}" "say \\"hi\\""'), row


def test_max_args_truncates_with_ellipsis():
    s = Snoop("--max-args", "3")
    tag = f"m{os.getpid()}"
    subprocess.run(["/bin/true", tag, "b", "c", "d", "e"])
    subprocess.run(["/bin/true", tag + "x", "b"])   # 3 entries: filename + 2, no cut
    lines, _ = s.stop()
    (cut,) = _rows(lines, tag + " ")
    assert cut.endswith(f"/bin/true {tag} b ..."), cut
    (whole,) = _rows(lines, tag + "x")
    assert whole.endswith(f"/bin/true {tag}x b"), whole


def test_default_max_args_is_20():
    s = Snoop()
    tag = f"d{os.getpid()}"
    args = [tag] + [str(i) for i in range(30)]
    subprocess.run(["/bin/true", *args])
    lines, _ = s.stop()
    (row,) = _rows(lines, tag)
    shown = row[row.index("/bin/true"):]
    assert shown.split() == ["/bin/true", tag] + [str(i) for i in range(18)] + ["..."]


def test_failed_exec_shown_only_with_x():
    missing = f"/nonexistent/prog{os.getpid()}"
    s = Snoop()
    _spawn_missing(missing)
    lines, _ = s.stop()
    assert not _rows(lines, missing)
    s = Snoop("-x")
    _spawn_missing(missing)
    lines, _ = s.stop()
    (row,) = _rows(lines, missing)
    fields = row.split()
    assert fields[3] == "-2", row   # -ENOENT
    assert fields[4] == missing


def _spawn_missing(path: str) -> None:
    code = "import os\np = os.environ['P']\ntry:\n os.execv(p, [p, 'arg'])\nexcept OSError: pass"
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "P": path})


def test_ppid_filter():
    tag = f"p{os.getpid()}"
    parent = subprocess.Popen([sys.executable, "-c",
                               "import sys,subprocess; sys.stdin.readline(); "
                               f"subprocess.run(['/bin/true', '{tag}', 'child'])"],
                              stdin=subprocess.PIPE, text=True)
    s = Snoop("-P", str(parent.pid))
    subprocess.run(["/bin/true", tag, "notchild"])
    parent.communicate("go\n", timeout=10)
    lines, _ = s.stop()
    rows = _rows(lines, tag)
    assert len(rows) == 1 and rows[0].endswith(f"{tag} child"), lines
    assert rows[0].split()[2] == str(parent.pid)


def _as_user(uid: int, argv: list[str]) -> None:
    def demote():
        os.setgid(uid)
        os.setuid(uid)
    subprocess.run(argv, preexec_fn=demote)


def test_uid_filter_and_uid_column():
    tag = f"u{os.getpid()}"
    s = Snoop("-u", "65534", "-U")
    subprocess.run(["/bin/true", tag, "root"])
    _as_user(65534, ["/bin/true", tag, "nobody"])
    lines, _ = s.stop()
    assert s.header.split()[:2] == ["UID", "PCOMM"]
    rows = _rows(lines, tag)
    assert len(rows) == 1, lines
    assert rows[0].split()[0] == "65534"
    assert rows[0].endswith(f"{tag} nobody")


def test_uid_by_name():
    tag = f"n{os.getpid()}"
    s = Snoop("-u", "nobody")
    subprocess.run(["/bin/true", tag, "root"])
    _as_user(65534, ["/bin/true", tag, "nobody"])
    lines, _ = s.stop()
    rows = _rows(lines, tag)
    assert len(rows) == 1 and rows[0].endswith("nobody"), lines


def test_name_and_line_filters():
    tag = f"f{os.getpid()}"
    s = Snoop("-n", "^echo$")
    subprocess.run(["/bin/true", tag])
    subprocess.run(["/bin/echo", tag], stdout=subprocess.DEVNULL)
    lines, _ = s.stop()
    rows = _rows(lines, tag)
    assert len(rows) == 1 and rows[0].startswith("echo"), lines
    s = Snoop("-l", f"{tag}.*keep")
    subprocess.run(["/bin/true", tag, "drop"])
    subprocess.run(["/bin/true", tag, "keep"])
    lines, _ = s.stop()
    rows = _rows(lines, tag)
    assert len(rows) == 1 and rows[0].endswith("keep"), lines


def test_time_and_timestamp_columns():
    tag = f"c{os.getpid()}"
    s = Snoop("-T", "-t")
    subprocess.run(["/bin/true", tag])
    lines, _ = s.stop()
    assert s.header.split()[:3] == ["TIME", "TIME(s)", "PCOMM"]
    (row,) = _rows(lines, tag)
    hms, secs = row.split()[:2]
    assert re.fullmatch(r"\d\d:\d\d:\d\d", hms), row
    assert re.fullmatch(r"\d+\.\d{3}", secs), row
    assert 0 <= float(secs) < 120
    now = time.localtime()
    h, m, _ = (int(x) for x in hms.split(":"))
    diff = ((now.tm_hour * 60 + now.tm_min) - (h * 60 + m)) % 1440   # midnight wraps
    assert diff <= 1 or diff == 1439, hms


def test_cpu_and_parent_command_columns():
    """-C and -M (bcc's newer options): the exec'd program pinned to CPU 1 by taskset,
    under a shell: the row says CPU 1 and parent command sh, in bcc's column order."""
    tag = f"m{os.getpid()}"
    s = Snoop("-C", "-M")
    subprocess.run(["/bin/sh", "-c", f"taskset -c 1 /bin/true {tag}; :"])
    lines, _ = s.stop()
    assert s.header.split() == ["COMM", "PID", "PCOMM", "PPID", "CPU", "RET", "ARGS"]
    rows = [r.split() for r in _rows(lines, tag) if r.startswith("true ")]
    assert len(rows) == 1, lines
    comm, pid, pcomm, ppid, cpu, ret = rows[0][:6]
    assert (comm, pcomm, cpu, ret) == ("true", "sh", "1", "0")
    assert rows[0][6:] == ["/bin/true", tag]


def test_json_lines_typed():
    tag = f"j{os.getpid()}"
    s = Snoop("--json", "-x", ready_marker=True)
    subprocess.run(["/bin/true", tag, "x y"])
    lines, _ = s.stop()
    recs = [json.loads(ln) for ln in lines if tag in ln]
    assert len(recs) == 1, lines
    r = recs[0]
    assert r["args"] == ["/bin/true", tag, "x y"]
    assert r["pcomm"] == "true" and r["ret"] == 0 and r["uid"] == 0
    assert r["ppid"] == os.getpid()
    assert r["parent_comm"] == open("/proc/self/comm").read().strip()
    assert 0 <= r["cpu"] < os.cpu_count()
    assert isinstance(r["pid"], int) and isinstance(r["timestamp"], float)
    assert re.fullmatch(r"\d\d:\d\d:\d\d", r["time"])


def _cgroup2_root() -> str:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            if parts[sep + 1] == "cgroup2":
                return parts[4]
    pytest.fail("no cgroup2 mount on this machine")


@pytest.fixture
def pinned_hash(bpffs):
    """A hash map u64 -> u64/u32 pinned by the test, as a user of --cgroupmap would."""
    from pybpf._sys.uapi import MapType
    from pybpf.maps import Map
    made = []

    def make(name: str, value_size: int):
        m = Map.create(MapType.HASH, key_size=8, value_size=value_size, max_entries=16,
                       name=f"pt_{name}")
        path = os.path.join(bpffs, name)
        m.pin(path)
        made.append((m, path))
        return m, path
    yield make
    for m, path in made:
        os.unlink(path)
        m.close()


def test_cgroupmap(pinned_hash):
    root = _cgroup2_root()
    cg = os.path.join(root, f"pybpf-test-{os.getpid()}")
    os.mkdir(cg)
    try:
        m, path = pinned_hash("cgmap", 8)
        m[os.stat(cg).st_ino] = 1      # the cgroup id is the cgroup directory's inode
        tag = f"g{os.getpid()}"
        s = Snoop("--cgroupmap", path)

        def enter_cgroup():
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        subprocess.run(["/bin/true", tag, "outside"])
        subprocess.run(["/bin/true", tag, "inside"], preexec_fn=enter_cgroup)
        lines, _ = s.stop()
        rows = _rows(lines, tag)
        assert len(rows) == 1 and rows[0].endswith("inside"), lines
    finally:
        os.rmdir(cg)


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) from util-linux")
def test_mntnsmap(pinned_hash):
    tag = f"s{os.getpid()}"
    m, path = pinned_hash("mntns", 4)
    # a process in a new mount namespace that waits, so we can learn its namespace id
    child = subprocess.Popen(["unshare", "-m", "--", sys.executable, "-c",
                              "import sys,subprocess; sys.stdin.readline(); "
                              f"subprocess.run(['/bin/true', '{tag}', 'inside'])"],
                             stdin=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            kids = open(f"/proc/{child.pid}/task/{child.pid}/children").read().split()
            target = int(kids[0]) if kids else child.pid
            ns = os.stat(f"/proc/{target}/ns/mnt").st_ino
            if ns != os.stat("/proc/self/ns/mnt").st_ino or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        m[ns] = b"\x01\0\0\0"
        s = Snoop("--mntnsmap", path)
        subprocess.run(["/bin/true", tag, "outside"])
        child.communicate("go\n", timeout=10)
        lines, _ = s.stop()
        rows = _rows(lines, tag)
        assert len(rows) == 1 and rows[0].endswith("inside"), lines
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_sigterm_leaves_nothing_loaded():
    from pybpf import info
    before = {p.id for p in info.list_objects("prog")}
    s = Snoop()
    during = {p.name for p in info.list_objects("prog") if p.id not in before}
    assert "tp_enter_execve" in during
    s.p.send_signal(signal.SIGTERM)
    _, err = s.p.communicate(timeout=20)
    assert s.p.returncode == 0, err
    # other processes (tests running in parallel) load and drop programs meanwhile, and a
    # closed program is freed after a grace period: what counts is an execsnoop program
    # that nobody holds once that has passed (a link left attached holds its program, so
    # it shows here too)
    from tests.toolrun import orphan_progs
    assert not orphan_progs(before)


def test_help_lists_bcc_options():
    out = subprocess.run(TOOL + ["-h"], capture_output=True, text=True).stdout
    for opt in ("-T, --time", "-t, --timestamp", "-x, --fails", "--cgroupmap", "--mntnsmap",
                "-u USER, --uid USER", "-q, --quote", "-n NAME, --name NAME",
                "-l LINE, --line LINE", "-U, --print-uid", "--max-args MAX_ARGS",
                "-P PPID, --ppid PPID", "--json"):
        assert opt in out, opt


def test_a_reader_that_falls_behind_reports_what_was_lost():
    """Nothing is dropped silently: with the tool stopped, big events overflow its 2 MB ring
    buffer; once it runs again, shown + reported lost == execs made."""
    s = Snoop("--max-args", "60", "-P", str(os.getpid()))   # only our children, in BPF
    tag = f"L{os.getpid()}"
    big = ["x" * 120] * 58                      # ~7.3 KB per event: ~280 fill the ring
    n = 500
    os.kill(s.p.pid, signal.SIGSTOP)
    try:
        for i in range(n):
            subprocess.run(["/bin/true", f"{tag}-{i}", *big])
    finally:
        os.kill(s.p.pid, signal.SIGCONT)
    time.sleep(1.5)                             # one drop check and a few reads
    lines, err = s.stop()
    shown = len(_rows(lines, f"{tag}-"))
    lost = sum(int(m) for m in re.findall(r"lost (\d+) events", err))
    assert lost > 0 and shown > 0, (shown, err)
    assert shown + lost == n, (shown, lost, err)


THREAD_EXEC = r"""
import os, sys, threading
tag, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    pid = os.fork()
    if pid == 0:
        # exec from a thread that is not the leader: the kernel gives it the leader's pid
        t = threading.Thread(target=os.execv, args=("/bin/true", ["/bin/true", tag, str(i)]))
        t.start()
        t.join()
        os._exit(99)
    os.waitpid(pid, 0)
"""


@pytest.mark.parametrize("tool", [TOOL, OLD_KERNEL_TOOL], ids=["task-storage", "before-5.12"])
def test_exec_from_a_non_leader_thread_is_reported(tool):
    """bcc reports these, libbpf-tools and the old pybpf execsnoop did not: an exec from a
    thread returns under another id, and a table keyed by thread id never found it.  Before
    5.12 the table is a hash keyed by the tgid, which that thread holds at exit too."""
    s = Snoop(tool=tool)
    tag = f"thr{os.getpid()}"
    subprocess.run([sys.executable, "-c", THREAD_EXEC, tag, "3"], check=True)
    lines, err = s.stop()
    rows = [r for r in _rows(lines, tag) if r.split()[0] == "true"]
    assert sorted(r.split()[-1] for r in rows) == ["0", "1", "2"], lines
    for r in rows:
        assert r.split()[0] == "true" and int(r.split()[2]) != os.getpid()
    assert "lost" not in err


def test_the_in_flight_table_cannot_be_filled():
    """Each thread exec used to leave an entry in a 10240-entry hash; any user could fill it
    and blind the tool.  The in-flight table is task storage now (an entry dies with its
    task): after many thread execs, every exec is still reported, none lost."""
    from pybpf import info
    from pybpf._sys.uapi import MapType
    from pybpf.tools.execsnoop import program_suffix
    s = Snoop()
    # before 5.12 a hash keyed by tgid, which a thread's exec finds again at its exit
    name, kind = ("execs", MapType.TASK_STORAGE) if not program_suffix() else \
        ("execs_hash", MapType.HASH)
    mine = [m for m in info.list_objects("map") if m.name == name]
    assert mine and all(m.type == kind for m in mine)
    tag = f"fill{os.getpid()}"
    n = 300
    subprocess.run([sys.executable, "-c", THREAD_EXEC, tag, str(n)], check=True)
    after = f"after{os.getpid()}"
    subprocess.run(["/bin/true", after])
    lines, err = s.stop()
    rows = [r for r in _rows(lines, tag) if r.split()[0] == "true"]
    assert sorted(int(r.split()[-1]) for r in rows) == list(range(n))
    assert len(_rows(lines, after)) == 1
    assert "lost" not in err


def test_args_that_are_not_utf8_print_as_their_bytes():
    """argv bytes that are not UTF-8 print as they were (bcc prints bytes), a newline as
    \\n as bcc's; --json (Unicode) has U+FFFD for each such byte."""
    from tests.toolrun import ToolRun
    tag = f"u{os.getpid()}".encode()
    argv = [b"/bin/true", tag, b"\xff\xfe", b"a\nb"]
    text = ToolRun("execsnoop", "-P", str(os.getpid()), ready="ARGS")
    js = ToolRun("execsnoop", "-P", str(os.getpid()), "--json")
    js.wait_for(tag.decode(), trigger=lambda: subprocess.run(argv))
    text.stop(), js.stop()
    assert any(r.endswith(b"/bin/true " + tag + b" \xff\xfe a\\nb") for r in text.raw), text.raw
    assert [r["args"] for r in js.json()][0] == ["/bin/true", tag.decode(), "\ufffd\ufffd",
                                                "a\nb"]


_EXECVEAT = r"""
import ctypes, sys
argv = (ctypes.c_char_p * 3)(b"/bin/true", sys.argv[2].encode(), None)
envp = (ctypes.c_char_p * 1)(None)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(322, -100, sys.argv[1].encode(), argv, envp, 0)   # AT_FDCWD; returns on failure
sys.exit(ctypes.get_errno())
"""


def test_execveat_shares_the_exit_program():
    """execveat() ends in execve()'s exit program (one program, two tracepoints): a good
    and a failed execveat each show with their result (-x shows the failed one)."""
    import platform
    if platform.machine() != "x86_64":
        pytest.skip("x86_64 syscall number")
    s = Snoop("-x")
    tag = f"at{os.getpid()}"
    subprocess.run([sys.executable, "-c", _EXECVEAT, "/bin/true", tag + "ok"], check=True)
    r = subprocess.run([sys.executable, "-c", _EXECVEAT, "/nonexistent/x", tag + "bad"])
    assert r.returncode == 2            # ENOENT
    lines, _ = s.stop()
    # the python lines carry the tag too; the execveat rows start with the path
    (bad,) = [r for r in _rows(lines, tag + "bad") if r.split()[4] == "/nonexistent/x"]
    (ok,) = [r for r in _rows(lines, tag + "ok") if r.split()[4] == "/bin/true"]
    assert bad.split()[3] == "-2" and ok.split()[3] == "0", (bad, ok)


def test_before_5_12_the_hash_programs_report_every_exec():
    """The programs for kernels without task storage for tracing (5.10, 5.11): every
    exec's argv and result, the failed one with -x, the in-flight hash empty afterwards."""
    from pybpf import info
    from pybpf.maps import Map
    s = Snoop("-x", tool=OLD_KERNEL_TOOL)
    progs = {p.name for p in info.list_objects("prog")}
    assert {"tp_enter_execve", "tp_exit_hash"} <= progs, progs
    tag = f"old{os.getpid()}"
    ours = set()
    for i in range(20):
        p = subprocess.Popen(["/bin/true", tag, str(i)])
        assert p.wait() == 0
        ours.add(p.pid)
    with pytest.raises(FileNotFoundError):
        subprocess.run([f"/no/{tag}"])
    ids = [m.id for m in info.list_objects("map") if m.name == "execs_hash"]
    assert len(ids) == 1
    with Map.from_id(ids[0]) as m:
        # ours only: on a busy machine others' execs are in flight, and one whose exit
        # no program saw (killed mid-exec; the program skipped while another ran on its
        # CPU) stays until its tgid execs again
        left = {int.from_bytes(k, "little") for k in m.keys()} & (ours | {os.getpid()})
    lines, err = s.stop()
    rows = [r for r in _rows(lines, tag) if r.split()[0] == "true"]
    assert sorted(int(r.split()[-1]) for r in rows) == list(range(20))
    failed = [r for r in lines if f"/no/{tag}" in r]
    assert len(failed) == 1 and failed[0].split()[3] == "-2", lines
    assert left == set()
    assert "lost" not in err
