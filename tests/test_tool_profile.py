"""pybpf profile and offcputime: the stacks of a C program with known functions."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.cbuild import build
from tests.toolrun import ToolRun

pytestmark = pytest.mark.kernel

HOT = ";main;spin_marker_mid;spin_marker_leaf"


def _cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def test_profile_folded_user_stack_and_sample_rate():
    # spins until killed (60 s at most): with 4 s, a start-up slowed by a loaded machine
    # (a cold compile on 2 shared cores) let it finish before the first sample (total 0)
    spin = subprocess.Popen([build("tool_spin"), "60"])
    try:
        cpu0 = _cpu_ns(spin.pid)
        t = ToolRun("profile", "-F", "99", "-f", "-p", str(spin.pid), "1", ready="Sampling at")
        t.p.wait(timeout=30)
        cpu1 = _cpu_ns(spin.pid)
        lines = [ln.rsplit(" ", 1) for ln in t.stop(settle=0) if ln]
    finally:
        spin.kill()
        spin.wait()
    total = sum(int(n) for _, n in lines)
    # every sample is the spinner's, at 99 per second of its CPU time at most
    assert 0 < total <= 99 * (cpu1 - cpu0) / 1e9 * 1.2 + 3, (total, cpu1 - cpu0)
    hot = [(s, int(n)) for s, n in lines if s.endswith(HOT)]
    assert hot and all(s.startswith("tool_spin;") for s, _ in hot), lines
    assert sum(n for _, n in hot) >= 0.5 * total, lines


def test_offcputime_charges_sleeps_to_their_stack():
    # 300 sleeps of 20 ms: still asleep when the tool reads its stacks
    sleeper = subprocess.Popen([build("tool_sleep"), "300", "20"])
    try:
        t = ToolRun("offcputime", "-f", "-p", str(sleeper.pid), ready="Tracing off-CPU")
        try:
            time.sleep(0.6)
        finally:
            lines = [ln.rsplit(" ", 1) for ln in t.stop(settle=0) if ln]
            sleeper_done = sleeper.poll() is not None
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not sleeper_done
    # libc's clock_nanosleep keeps no frame pointer: its caller shows as main
    mine = [(s, int(n)) for s, n in lines if ";main;clock_nanosleep;" in s]
    assert mine and all(s.startswith("tool_sleep;") for s, _ in mine), lines
    total = sum(n for _, n in mine)
    # about 0.6 s traced, all of it asleep in nanosleep (each sleep is 20 ms)
    assert 300_000 <= total <= 1_500_000, total
    assert all(s.endswith(";schedule;__schedule") for s, _ in mine), mine
