"""pybpf runqlen: four busy tasks pinned to CPU 0 leave three waiting there."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.toolrun import ToolRun

pytestmark = pytest.mark.kernel

SPIN = ("import os, time\nos.sched_setaffinity(0, {0})\nend = time.monotonic() + 1.5\n"
        "while time.monotonic() < end: pass\n")


def test_pinned_spinners_queue_on_cpu0():
    t = ToolRun("runqlen", "-C", "--json", ready="Sampling run queue")
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(4)]
    for s in spinners:
        s.wait()
    t.stop(settle=0)
    (rec,) = t.json()
    (cpu0,) = [h for h in rec["hists"] if h["cpu"] == 0]
    by_len = {b["low"]: b["count"] for b in cpu0["buckets"]}
    # the spinners share one cgroup run queue on CPU 0: sampled while one runs, three
    # wait.  (Samples of other tasks there count their own group's queue.)
    waiting = {k: v for k, v in by_len.items() if k > 0}
    assert by_len.get(3, 0) >= 20 and by_len[3] == max(waiting.values()), cpu0
