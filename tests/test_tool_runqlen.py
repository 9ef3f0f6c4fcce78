"""pybpf runqlen: four busy tasks pinned to CPU 0 leave at least three waiting there."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from tests.toolrun import ToolRun

pytestmark = pytest.mark.kernel

# pinned before it joins the cgroup: between the two it could be sampled queued on CPU 1.
# All four start spinning together (a line on stdin), so they overlap for the whole 1.5 s
# even where starting Python takes a good part of that (the emulated guest).
SPIN = ("import os, sys, time\nos.sched_setaffinity(0, {0})\n"
        "with open(sys.argv[1] + '/cgroup.procs', 'w') as f:\n f.write(str(os.getpid()))\n"
        "print(flush=True)\nsys.stdin.readline()\n"
        "end = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass\n")


def _cgroup2_root() -> str:
    for line in open("/proc/self/mounts"):
        dev, mnt, fstype = line.split()[:3]
        if fstype == "cgroup2":
            return mnt
    raise AssertionError("no cgroup2 mount")


def test_pinned_spinners_queue_on_cpu0():
    cg = tempfile.mkdtemp(prefix="pybpf-test-", dir=_cgroup2_root())
    try:
        t = ToolRun("runqlen", "-C", "-c", cg, "--json", ready="Sampling run queue")
        spinners = [subprocess.Popen([sys.executable, "-c", SPIN, cg], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE) for _ in range(4)]
        for s in spinners:
            s.stdout.readline()                 # in the cgroup, pinned, waiting
        for s in spinners:
            s.stdin.write(b"go\n")
            s.stdin.flush()
        for s in spinners:
            s.wait()
            s.stdin.close()
            s.stdout.close()
        t.stop(settle=0)
    finally:
        os.rmdir(cg)
    (rec,) = t.json()
    (cpu0,) = [h for h in rec["hists"] if h["cpu"] == 0]
    by_len = {b["low"]: b["count"] for b in cpu0["buckets"]}
    # sampled while one of them runs, CPU 0's queue holds the other three, and whatever
    # else is runnable there (the queue is their scheduling group's: where the cpu
    # controller is not in cgroup v2, everyone's)
    at_least_3 = sum(n for length, n in by_len.items() if length >= 3)
    assert at_least_3 >= 0.8 * cpu0["total"] and cpu0["total"] >= 20, cpu0
    assert not [h for h in rec["hists"] if h["cpu"] != 0]      # none ran elsewhere
