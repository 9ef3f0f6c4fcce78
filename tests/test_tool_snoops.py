"""pybpf statsnoop and sigsnoop against stats of marker paths and signals of known
number."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.test_tool_execsnoop import pinned_hash  # noqa: F401 (a fixture)
from tests.toolrun import ToolRun, run_tool

pytestmark = pytest.mark.kernel


def test_statsnoop_marker_paths(tmp_path):
    marker = tmp_path / "stat-marker"
    marker.write_text("x")
    missing = str(tmp_path / "stat-missing")
    t = ToolRun("statsnoop", "-s", "-p", str(os.getpid()), ready="PATH")
    os.stat(marker)
    with pytest.raises(FileNotFoundError):
        os.stat(missing)
    os.statvfs(str(tmp_path))
    lines = t.stop()
    assert lines[0].split() == ["PID", "COMM", "FD", "ERR", "SYSCALL", "PATH"]
    rows = {ln.split()[-1]: ln.split() for ln in lines[1:]}
    assert rows[str(marker)][:1] == [str(os.getpid())]
    assert rows[str(marker)][2:5] == ["0", "0", "newfstatat"]      # -s: the call's name
    assert rows[missing][2:5] == ["-1", "2", "newfstatat"]
    assert rows[str(tmp_path)][2:5] == ["0", "0", "statfs"]
    t = ToolRun("statsnoop", "-x", "-p", str(os.getpid()), "--json")
    t.wait_for("stat-missing", trigger=lambda: os.path.exists(missing) or os.stat(marker))
    t.stop()
    assert {r["path"] for r in t.json()} == {missing}
    assert all(r["err"] == 2 and r["ret"] == -1 and r["syscall"] == "newfstatat"
               for r in t.json())


# x86_64's numbers of the stat family (statsnoop's five tracepoint pairs)
_STAT_NR = {"newstat": 4, "newlstat": 6, "statfs": 137, "newfstatat": 262, "statx": 332}


def test_statsnoop_each_stat_syscall_ends_in_the_shared_exit(tmp_path):
    """Five syscalls, one exit program: each raw call shows its own name, path and
    result (a good call 0, a missing path -1 with ENOENT)."""
    import ctypes
    import platform
    if platform.machine() != "x86_64":
        pytest.skip("x86_64 syscall numbers")
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(512)
    t = ToolRun("statsnoop", "-s", "-p", str(os.getpid()), ready="PATH")
    expected = []
    for name, nr in _STAT_NR.items():
        for exists in (True, False):
            path = tmp_path / f"{name}-{'here' if exists else 'gone'}"
            if exists:
                path.write_text("x")
            b = str(path).encode()
            if name in ("newfstatat", "statx"):
                args = (-100, b, 0, 0x7ff, buf) if name == "statx" else (-100, b, buf, 0)
            else:
                args = (b, buf)
            ret = libc.syscall(nr, *args)
            assert ret == (0 if exists else -1)
            expected.append([("0", "0") if exists else ("-1", "2"), name, str(path)])
    rows = [ln.split() for ln in t.stop()[1:]]
    got = [[tuple(r[2:4]), r[4], r[5]] for r in rows if r[-1].startswith(str(tmp_path))]
    assert got == expected


def test_sigsnoop_signals_with_names_and_target():
    victim = subprocess.Popen(["sleep", "30"])
    t = ToolRun("sigsnoop", "-n", "-t", str(victim.pid), ready="RESULT")
    os.kill(victim.pid, signal.SIGUSR1)
    victim.wait()
    lines = t.stop()
    rows = [ln.split() for ln in lines[1:]]
    sent = [r for r in rows if r[3] == "SIGUSR1"]
    assert len(sent) == 1 and sent[0][1] == str(os.getpid()) and sent[0][4] == str(victim.pid)
    assert sent[0][5] == "0"
    # the parent's SIGCHLD targets us, not the victim: filtered out by -t
    assert not [r for r in rows if r[3] == "SIGCHLD"]


def test_mountsnoop_tmpfs_mount_and_umount(tmp_path):
    target = tmp_path / "mnt"
    target.mkdir()
    t = ToolRun("mountsnoop", "-p", str(os.getpid()), ready="CALL")
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mount(b"pybpf-test", str(target).encode(), b"tmpfs", 2 | 4, b"size=1m") == 0
    assert libc.umount2(str(target).encode(), 0) == 0
    assert libc.umount2(str(target).encode(), 0) == -1       # not mounted any more: EINVAL
    lines = t.stop()
    calls = [ln.split(None, 4)[4] for ln in lines[1:]]
    ns = os.stat("/proc/self/ns/mnt").st_ino
    assert all(ln.split()[3] == str(ns) for ln in lines[1:])
    assert calls == [f'mount("pybpf-test", "{target}", "tmpfs", MS_NOSUID|MS_NODEV, '
                     f'"size=1m") = 0',
                     f'umount("{target}", 0x0) = 0',
                     f'umount("{target}", 0x0) = -EINVAL']


def test_vfsstat_counts_a_childs_calls(tmp_path):
    from tests.workload import Child
    code = (f"import os\nfd = os.open({str(tmp_path / 'f')!r}, os.O_RDWR | os.O_CREAT)\n"
            "for _ in range(300): os.pread(fd, 1, 0)\n"
            "for _ in range(200): os.pwrite(fd, b'x', 0)\n"
            "for _ in range(7): os.fsync(fd)\n"
            f"for _ in range(11): os.close(os.open({str(tmp_path / 'f')!r}, os.O_RDONLY))\n")
    c = Child(code)
    t = ToolRun("vfsstat", "-p", str(c.pid), "--json", "100", ready="Tracing...")
    c.go()
    t.stop()
    (rec,) = t.json()
    # exactly the calls above (its read of "go" entered the kernel before we attached)
    assert (rec["read"], rec["write"], rec["fsync"], rec["open"], rec["create"]) == \
        (300, 200, 7, 11, 1), rec


def test_filetop_reads_and_writes_of_a_marker_file(tmp_path):
    from tests.workload import Child
    path = str(tmp_path / "filetop-marker")
    code = (f"import os\nfd = os.open({path!r}, os.O_RDWR | os.O_CREAT)\n"
            "for _ in range(40): os.write(fd, b'x' * 4096)\n"
            "for _ in range(25): os.pread(fd, 2048, 0)\n")
    c = Child(code)
    t = ToolRun("filetop", "-C", "--json", "-p", str(c.pid), "100", ready="Tracing...")
    c.go()
    t.stop()
    (rec,) = t.json()
    (row,) = [r for r in rec["rows"] if r["file"] == "filetop-marker"]
    assert (row["writes"], row["w_kb"], row["reads"], row["r_kb"], row["type"]) == \
        (40, 160, 25, 50, "R"), row
    assert row["pid"] == c.pid


def test_mountsnoop_mntnsmap_and_parent(tmp_path, pinned_hash):
    """--mntnsmap: a mount in a child's new mount namespace (in the map) shows, ours does
    not; -P: the child's parent is this process (PCOMM, PPID)."""
    import sys
    import time
    target = tmp_path / "mnt"
    target.mkdir()
    m, path = pinned_hash("mntns", 4)
    code = ("import ctypes, sys\nlibc = ctypes.CDLL(None)\nsys.stdin.readline()\n"
            f"assert libc.mount(b'pybpf-in', {str(target).encode()!r}, b'tmpfs', 0, b'') == 0\n"
            f"assert libc.umount2({str(target).encode()!r}, 0) == 0\n")
    child = subprocess.Popen(["unshare", "-m", "--", sys.executable, "-c", code],
                             stdin=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while os.stat(f"/proc/{child.pid}/ns/mnt").st_ino == \
                os.stat("/proc/self/ns/mnt").st_ino and time.monotonic() < deadline:
            time.sleep(0.02)        # unshare(1) has not exec'd yet
        ns = os.stat(f"/proc/{child.pid}/ns/mnt").st_ino
        m[ns] = b"\x01\0\0\0"
        t = ToolRun("mountsnoop", "-P", "--mntnsmap", path, ready="CALL")
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.mount(b"pybpf-out", str(target).encode(), b"tmpfs", 0, b"") == 0
        assert libc.umount2(str(target).encode(), 0) == 0
        child.communicate("go\n", timeout=10)
        assert child.returncode == 0
        t.stop()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    lines = t.out
    assert lines[0].split() == ["COMM", "PID", "TID", "PCOMM", "PPID", "MNT_NS", "CALL"]
    rows = [ln.split(None, 6) for ln in lines[1:]]
    assert [r[6] for r in rows] == [f'mount("pybpf-in", "{target}", "tmpfs", 0x0, "") = 0',
                                    f'umount("{target}", 0x0) = 0'], lines
    me = open("/proc/self/comm").read().strip()
    assert all(r[1] == str(child.pid) and r[3] == me and r[4] == str(os.getpid())
               and r[5] == str(ns) for r in rows), lines


def test_mountsnoop_cgroupmap(tmp_path, pinned_hash):
    """--cgroupmap: a mount by a child in a cgroup whose id is in the map shows; the same
    mount made outside it does not."""
    import ctypes
    import sys
    import tempfile
    from pybpf.links.cgroup import cgroup2_root
    target = tmp_path / "mnt"
    target.mkdir()
    cg = tempfile.mkdtemp(prefix="pybpf-test-", dir=cgroup2_root())
    m, path = pinned_hash("cgmnt", 8)
    m[os.stat(cg).st_ino] = 1           # a cgroup's id is its directory's inode
    libc = ctypes.CDLL(None, use_errno=True)
    t_ = str(target).encode()
    try:
        t = ToolRun("mountsnoop", "--cgroupmap", path, ready="CALL")
        assert libc.mount(b"pybpf-out", t_, b"tmpfs", 0, b"") == 0
        assert libc.umount2(t_, 0) == 0
        code = (f"import ctypes, os\nopen('{cg}/cgroup.procs', 'w').write(str(os.getpid()))\n"
                "libc = ctypes.CDLL(None)\n"
                f"assert libc.mount(b'pybpf-in', {t_!r}, b'tmpfs', 0, b'') == 0\n"
                f"assert libc.umount2({t_!r}, 0) == 0\nprint(os.getpid())\n")
        inside = int(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, check=True).stdout)
        lines = t.stop()
    finally:
        os.rmdir(cg)
    rows = [ln.split(None, 4) for ln in lines[1:]]
    assert [(int(r[1]), r[4]) for r in rows] == [
        (inside, f'mount("pybpf-in", "{target}", "tmpfs", 0x0, "") = 0'),
        (inside, f'umount("{target}", 0x0) = 0')], lines
def test_filetop_read_only_write_only_and_directory(tmp_path):
    """Two filetops on one child: --read-only -d DIR sees the reads of the file inside
    DIR only; --write-only sees the writes of both files and no reads."""
    from tests.workload import Child
    inside = tmp_path / "dir"
    inside.mkdir()
    code = "import os\n"
    for path in (str(inside / "ft-in"), str(tmp_path / "ft-out")):
        code += (f"fd = os.open({path!r}, os.O_RDWR | os.O_CREAT)\n"
                 "for _ in range(6): os.write(fd, b'x' * 4096)\n"
                 "for _ in range(9): os.pread(fd, 1024, 0)\n")
    c = Child(code)
    ro = ToolRun("filetop", "-C", "--json", "-p", str(c.pid), "--read-only", "-d",
                 str(inside), "100", ready="Tracing...")
    wo = ToolRun("filetop", "-C", "--json", "-p", str(c.pid), "--write-only", "100",
                 ready="Tracing...")
    c.go()
    ro.stop()
    wo.stop()
    (rec,) = ro.json()
    assert [(r["file"], r["reads"], r["r_kb"], r["writes"]) for r in rec["rows"]] == [
        ("ft-in", 9, 9, 0)], rec
    (rec,) = wo.json()
    got = sorted((r["file"], r["writes"], r["w_kb"], r["reads"]) for r in rec["rows"])
    assert got == [("ft-in", 6, 24, 0), ("ft-out", 6, 24, 0)], rec


def test_vfsstat_text_columns_are_bccs():
    """bcc's header (TIME and two spaces: no colon) above rows "HH:MM:SS: " and five
    rates; one interval, then it ends by itself."""
    r = run_tool("vfsstat", "1", "1")
    lines = [ln for ln in r.stdout.splitlines() if ln and not ln.startswith("Tracing")]
    assert lines[0] == "%-8s  " % "TIME" + "".join(
        " %8s" % s for s in ("READ/s", "WRITE/s", "FSYNC/s", "OPEN/s", "CREATE/s")), lines
    import re
    assert len(lines) == 2 and re.fullmatch(r"\d\d:\d\d:\d\d:(?: +\d+){5}", lines[1]), lines
