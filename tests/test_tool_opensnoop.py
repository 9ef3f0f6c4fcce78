"""pybpf opensnoop against real opens of marker files: fd, errno, flags, filters."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.toolrun import ToolRun, run_tool

pytestmark = pytest.mark.kernel


def _opener(path: str, flags: str = "os.O_RDONLY", cwd: str | None = None) -> int:
    """Open ``path`` in a child python; returns the child's pid."""
    code = (f"import os\ntry:\n fd = os.open({path!r}, {flags}, 0o600)\n"
            "except OSError: pass\nprint(os.getpid())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                       check=True)
    return int(r.stdout)


def test_marker_open_fd_err_and_flags(tmp_path):
    marker = tmp_path / "marker-open"
    marker.write_text("x")
    t = ToolRun("opensnoop", "-e", "-n", "python", ready="PATH")
    pid = _opener(str(marker))
    missing = str(tmp_path / "missing")
    pid2 = _opener(missing)
    wr = tmp_path / "written"
    pid3 = _opener(str(wr), "os.O_WRONLY|os.O_CREAT|os.O_TRUNC")
    lines = t.stop()
    assert lines[0].split() == ["PID", "COMM", "FD", "ERR", "FLAGS", "PATH"]
    (row,) = [ln for ln in lines if ln.endswith(str(marker))]
    f = row.split()
    assert int(f[0]) == pid and f[1].startswith("python") and f[2] == "3" and f[3] == "0"
    assert int(f[4], 8) & 3 == os.O_RDONLY
    (row,) = [ln for ln in lines if ln.endswith(missing)]
    f = row.split()
    assert int(f[0]) == pid2 and f[2] == "-1" and f[3] == "2"       # ENOENT
    (row,) = [ln for ln in lines if ln.endswith(str(wr))]
    f = row.split()
    assert int(f[0]) == pid3
    assert int(f[4], 8) & (os.O_WRONLY | os.O_CREAT | os.O_TRUNC) == \
        os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def test_failed_only_flag_filter_and_full_path_json(tmp_path):
    ok = tmp_path / "exists"
    ok.write_text("x")
    t = ToolRun("opensnoop", "-x", "-n", "python", ready="PATH")
    _opener(str(ok))
    _opener(str(tmp_path / "nope"))
    lines = t.stop()
    assert not [ln for ln in lines if ln.endswith(str(ok))]
    assert [ln for ln in lines if ln.endswith("nope")]

    t = ToolRun("opensnoop", "-f", "O_WRONLY", "-F", "--json", "-n", "python")
    # -F: the kernel side walks the opener's cwd (JSON mode prints no header: open until
    # the record shows)
    t.wait_for("rel-marker", trigger=lambda: _opener("rel-marker", "os.O_WRONLY|os.O_CREAT",
                                                     cwd=str(tmp_path)))
    _opener(str(ok))        # read-only: filtered out by -f O_WRONLY
    recs = [r for r in t.json() if "marker" in r["path"] or r["path"] == str(ok)]
    t.stop()
    assert recs and all(r["path"] == str(tmp_path / "rel-marker") for r in recs)
    r = recs[0]
    assert r["fd"] >= 0 and r["err"] == 0 and r["flags"] & os.O_WRONLY
    assert set(r) == {"time", "ts", "uid", "pid", "tid", "comm", "fd", "err", "flags", "path"}


def test_pid_filter_and_bad_arguments(tmp_path):
    marker = tmp_path / "mine"
    marker.write_text("x")
    t = ToolRun("opensnoop", "-p", str(os.getpid()), ready="PATH")
    _opener(str(marker))            # another process: not shown
    with open(marker):
        pass
    lines = t.stop()
    rows = [ln for ln in lines if ln.endswith(str(marker))]
    assert len(rows) == 1 and int(rows[0].split()[0]) == os.getpid()
    r = run_tool("opensnoop", "-f", "O_BOGUS")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "O_BOGUS" in r.stderr
    r = run_tool("opensnoop", "-c", "/nonexistent/cgroup")
    assert r.returncode == 1 and r.stderr.strip() == \
        "pybpf opensnoop: error: cgroup '/nonexistent/cgroup': No such file or directory"


def test_names_that_are_not_utf8_print_as_their_bytes(tmp_path):
    """A file name that is not UTF-8 prints as its bytes (bcc prints bytes), so two such
    names stay apart; --json, which must be Unicode, shows U+FFFD for each such byte.
    statsnoop (the same decoding) rides along: one stat of the same name."""
    name = os.fsencode(str(tmp_path)) + b"/pt_\xff\xfe name\t1"
    text = ToolRun("opensnoop", "-p", str(os.getpid()), ready="PATH")
    js = ToolRun("opensnoop", "-p", str(os.getpid()), "--json")
    st = ToolRun("statsnoop", "-p", str(os.getpid()), ready="PATH")
    js.wait_for("pt_", trigger=lambda: os.close(os.open(name, os.O_CREAT | os.O_RDONLY, 0o600)))
    os.stat(name)
    text.stop(), js.stop(), st.stop()
    rows = [r for r in text.raw if r.endswith(name)]
    assert rows and all(r.split()[0] == str(os.getpid()).encode() for r in rows)
    assert {r["path"] for r in js.json() if "pt_" in r["path"]} == {
        name.decode(errors="replace")}
    assert [r.split()[2:4] for r in st.raw if r.endswith(name)] == [[b"0", b"0"]]


def _cgroup2_root() -> str:
    for line in open("/proc/self/mounts"):
        dev, mnt, fstype = line.split()[:3]
        if fstype == "cgroup2":
            return mnt
    raise AssertionError("no cgroup2 mount")


def test_cgroup_filter_shows_only_the_cgroups_tasks(tmp_path):
    import tempfile
    cg = tempfile.mkdtemp(prefix="pybpf-test-", dir=_cgroup2_root())
    marker = tmp_path / "cg-marker"
    marker.write_text("x")
    try:
        code = (f"import os, sys\nwith open('{cg}/cgroup.procs', 'w') as f: f.write(str(os.getpid()))\n"
                f"os.close(os.open({str(marker)!r}, os.O_RDONLY))\nprint(os.getpid())")
        t = ToolRun("opensnoop", "-c", cg, ready="PATH")
        inside = int(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, check=True).stdout)
        outside = _opener(str(marker))
        lines = t.stop()
    finally:
        os.rmdir(cg)
    pids = [int(ln.split()[0]) for ln in lines if ln.endswith(str(marker))]
    assert pids == [inside] and outside not in pids


def test_exec_traces_the_command_only_until_it_exits(tmp_path):
    """--exec: the command's own opens show (the shell's redirections of b, twice), its
    child's (cat of a) do not; the tool ends by itself when the command exits."""
    a, b = tmp_path / "exec-a", tmp_path / "exec-b"
    a.write_text("x")
    b.write_text("x")
    r = run_tool("opensnoop", "--json", "--exec", "sh", "-c",
                 f": < {b}; cat {a} > /dev/null; : < {b}", timeout=30)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert not [x for x in recs if x["path"] == str(a)]
    mine = [x for x in recs if x["path"] == str(b)]
    assert len(mine) == 2 and {x["comm"] for x in mine} == {"sh"}
    assert {x["pid"] for x in recs} == {mine[0]["pid"]}
    r = run_tool("opensnoop", "--exec", str(tmp_path / "no-such-command"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith(
        "pybpf opensnoop: error: --exec: cannot run") and "No such file" in r.stderr
    for bad, msg in ((["-p", "1", "--exec", "true"], "can only use -p/-t or --exec"),
                     (["--exec"], "--exec without command")):
        r = run_tool("opensnoop", *bad)
        assert r.returncode == 1 and r.stderr == f"pybpf opensnoop: error: {msg}\n"


_FIFO_READERS = r"""
import os, sys, threading
paths = sys.argv[1:]
fds = []
def reader(p):
    fds.append(os.open(p, os.O_RDONLY))     # blocks until the test opens it for writing
threads = [threading.Thread(target=reader, args=(p,)) for p in paths]
for t in threads:
    t.start()
print(os.getpid(), flush=True)
for t in threads:
    t.join()
print(len(fds), flush=True)
"""


def _start_table_flags(pid: int) -> int:
    """The map_flags of the in-flight table (``start``) the tool ``pid`` holds."""
    from pybpf.info import fd_by_id, held_ids, map_info
    for map_id in held_ids(pid, "map"):
        with fd_by_id("map", map_id) as fd:
            info = map_info(fd.fileno())
        if info.name == "start":
            return info.flags
    raise AssertionError("no start table held")


@pytest.mark.old_kernels        # 5.10 (preallocated) and 6.1 (on demand) guests too
def test_many_opens_in_flight_at_once_are_all_shown(tmp_path):
    """300 threads (64 in a guest) blocked inside open() at once (FIFOs, no writer): each
    one's entry waits in the in-flight table (allocated on demand from 6.1, preallocated
    before: the flags the kernel reports) until the open returns, and every one is shown
    with its fd."""
    from pybpf.object.kconfig import kernel_version_code
    if os.uname().machine != "x86_64":
        pytest.skip("reads openat's x86_64 syscall number from /proc")
    # 64 in the guests: each thread's start and /proc scan is emulated there (300: 33-39 s)
    n = 64 if os.environ.get("PYBPF_IN_VM") else 300
    paths = []
    for i in range(n):
        p = str(tmp_path / f"fifo-{i:03d}")
        os.mkfifo(p)
        paths.append(p)
    t = ToolRun("opensnoop", "-n", "python", ready="PATH")
    on_demand = kernel_version_code() >= (6 << 16) + (1 << 8)
    assert _start_table_flags(t.p.pid) == (1 if on_demand else 0)    # BPF_F_NO_PREALLOC
    child = subprocess.Popen([sys.executable, "-c", _FIFO_READERS, *paths],
                             stdout=subprocess.PIPE, text=True)
    try:
        pid = int(child.stdout.readline())
        task = f"/proc/{pid}/task"
        blocked = 0
        for _ in range(500):                    # every reader inside openat(2) at once
            blocked = 0
            for tid in os.listdir(task):
                try:
                    with open(f"{task}/{tid}/syscall") as f:
                        blocked += f.read().split()[0] == "257"     # __NR_openat (x86_64)
                except (OSError, IndexError):
                    pass
            if blocked == n:
                break
            subprocess.run(["sleep", "0.02"])
        assert blocked == n
        writers = [os.open(p, os.O_WRONLY | os.O_NONBLOCK) for p in paths]
        assert int(child.stdout.readline()) == n
        for fd in writers:
            os.close(fd)
        child.wait(30)
        lines = t.stop()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    rows = [ln.split() for ln in lines if "/fifo-" in ln]
    readers = [r for r in rows if int(r[0]) == pid]
    assert sorted(r[-1] for r in readers) == paths
    assert all(int(r[2]) >= 3 and r[3] == "0" for r in readers)
