"""pybpf syscount: exact counts of syscalls a child makes a known number of times."""

from __future__ import annotations

import pytest

from tests.toolrun import ToolRun, run_tool
from tests.workload import Child

pytestmark = pytest.mark.kernel

GETPPIDS = "import os\nfor _ in range(777): os.getppid()\n"
MISSES = ("import os\nfor _ in range(55):\n try: os.stat('/nonexistent/x')\n"
          " except OSError: pass\n")


def test_per_syscall_counts_and_latency():
    c = Child(GETPPIDS)
    t = ToolRun("syscount", "-L", "-p", str(c.pid), ready="Tracing syscalls")
    c.go()
    lines = t.stop()
    (row,) = [ln for ln in lines if ln.startswith("getppid ")]
    name, count, us = row.split()
    assert int(count) == 777 and float(us) > 0
    assert "SYSCALL                   COUNT        TIME (us)" in lines


def test_per_process_errno_filter_json():
    c = Child(MISSES)
    t = ToolRun("syscount", "-P", "-e", "ENOENT", "--json", "-p", str(c.pid),
                ready="Tracing syscalls")
    c.go()
    t.stop()
    (rec,) = t.json()
    (row,) = rec["rows"]
    assert row["pid"] == c.pid and row["count"] == 55 and row["comm"].startswith("python")

    c = Child(MISSES)
    t = ToolRun("syscount", "--syscall", "newfstatat", "-x", "-p", str(c.pid),
                ready="Tracing failed syscalls")
    c.go()
    lines = t.stop()
    assert [ln.split() for ln in lines if ln.startswith("newfstatat")] == [["newfstatat", "55"]]


def test_per_process_name_is_the_name_after_exec(tmp_path):
    """-P: a process counted before and after an exec is named as it is named now (its
    /proc/PID/comm, as bcc prints), not by the name it had at its first syscall; a
    thread's own name does not name the process either."""
    import os
    import sys
    renamed = tmp_path / "pt_renamed"
    os.symlink(sys.executable, renamed)
    thread_named = ("import ctypes, threading\n"
                    "def work():\n"
                    "    ctypes.CDLL(None).prctl(15, b'pt_thread', 0, 0, 0)\n"
                    "    for _ in range(11): os.getppid()\n"
                    "t = threading.Thread(target=work); t.start(); t.join()\n")
    after = "import os\n" + thread_named + GETPPIDS
    c = Child("import os\nfor _ in range(33): os.getppid()\n"
              f"os.execv({str(renamed)!r}, ['x', '-c', {after!r}])\n")
    assert _getppid_rows(c, "-p", str(c.pid)) == \
        [{"pid": c.pid, "comm": "pt_renamed", "count": 33 + 11 + 777}]


def _getppid_rows(child, *select: str) -> list:
    """syscount -P's JSON rows of getppid() calls while ``child`` runs, selected by
    ``select`` (-p PID, --ppid PID)."""
    t = ToolRun("syscount", "-P", "--syscall", "getppid", "--json", *select,
                ready="Tracing syscalls")
    child.go()
    t.stop()
    (rec,) = t.json()
    return rec["rows"]


def test_list_and_bad_syscall():
    r = run_tool("syscount", "-l")
    assert r.returncode == 0 and "getppid" in r.stdout.split()
    r = run_tool("syscount", "--syscall", "nosuchcall")
    assert r.returncode == 1
    assert r.stderr.strip() == "pybpf syscount: error: unknown syscall 'nosuchcall'"
    r = run_tool("syscount", "-e", "EBOGUS")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_exec_and_ppid():
    """--exec counts the command's own syscalls and ends when it exits; --ppid counts the
    children of a parent (55 getppid()) and not the parent itself (33)."""
    import sys
    r = run_tool("syscount", "--syscall", "getppid", "--exec", sys.executable, "-c",
                 GETPPIDS, timeout=30)
    assert r.returncode == 0, r.stderr
    assert [ln.split() for ln in r.stdout.splitlines() if ln.startswith("getppid")] == \
        [["getppid", "777"]]
    kid = "import os\nfor _ in range(55): os.getppid()\n"
    c = Child("import os, subprocess, sys\nfor _ in range(33): os.getppid()\n"
              f"subprocess.run([sys.executable, '-c', {kid!r}], check=True)\n")
    (row,) = _getppid_rows(c, "--ppid", str(c.pid))
    assert row["pid"] != c.pid and row["count"] == 55
    r = run_tool("syscount", "--ppid", "0")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--ppid" in r.stderr
