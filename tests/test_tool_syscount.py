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


def test_list_and_bad_syscall():
    r = run_tool("syscount", "-l")
    assert r.returncode == 0 and "getppid" in r.stdout.split()
    r = run_tool("syscount", "--syscall", "nosuchcall")
    assert r.returncode == 1
    assert r.stderr.strip() == "pybpf syscount: error: unknown syscall 'nosuchcall'"
    r = run_tool("syscount", "-e", "EBOGUS")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
