"""Off-CPU stretches whose end no BPF program saw (tools/_unseen.bpf.h): cpudist -O,
runqlat and offcputime time them from the task's run time and say how many there were;
on-CPU cpudist the same for a run whose start none saw.

This machine's kernel runs no BPF program for a sched_switch whose leaving task is one
of the sandbox init's threads (docs/STATUS.md, session 14), so a traced task brought
back by such a switch has no switch-in seen: its stretch is still open when it next
leaves the CPU.  Which switch that is cannot be chosen from a test, so the first tests
make the same state themselves: the child, while on the CPU (in the bpf() call), opens
an off-CPU stretch of D ns in the tool's own map, as a switch-out D ns ago with a
switch-in never seen would have left it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.toolrun import ToolRun
from tests.workload import Child

pytestmark = pytest.mark.kernel

D_US = 3_000_000        # the stretch made: 3 s, bucket 2097152..4194303 us

# The child: reads the map's id, opens the stretch (VALUE: ts = now - D, ran = its run
# time now, and for the histogram tools runs = its switch-ins then, one fewer than now:
# it came back once, unseen), runs 0.2 s, sleeps (the switch-out that finds the
# stretch), then prints how long all that took (the most the stretch can differ from D:
# wall time the scheduler did not count as its run time, steal say).
_OPEN = """
import os, struct, threading, time
from pybpf.maps import Map
m = Map.from_id(int(sys.stdin.readline()))
# (the thread's CPU clock is its run time brought up to now; /proc's schedstat shows
# the run time as of the last tick, up to 4 ms behind).  The clock is read after the
# time: what runs between the two then counts as off the CPU (the stretch comes out a
# little longer than D), never the other way round (CI once saw D - 10 us)
t, e = time.monotonic_ns(), time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID)
with open("/proc/thread-self/schedstat") as f:
    runs = int(f.read().split()[2])     # its switch-ins so far (sched_info.pcount)
m.update(struct.pack("<I", threading.get_native_id()), VALUE)
end = time.monotonic_ns() + 200_000_000
while time.monotonic_ns() < end:
    pass
time.sleep(0.05)
print(time.monotonic_ns() - t, flush=True)
"""


def _map_id(pid: int, name: str) -> int:
    """The id of map ``name`` held by process ``pid``."""
    from pybpf import info
    found = []
    for i in info.held_ids(pid, "map"):
        with info.fd_by_id("map", i) as mfd:
            if info.map_info(mfd.fileno()).name == name:
                found.append(i)
    (mid,) = found
    return mid


def _unseen(tool: str, err: bytes) -> int:
    """The stretches the tool said it timed from run time (the one made here; on this
    machine now and then one of the child's own, the kernel's doing, as in the module's
    doc), and no stretch lost or event missed."""
    assert b"lost" not in err and b"missed" not in err, err
    what = b"run-queue waits" if tool == "runqlat" else b"off-CPU stretches"
    return sum(int(n) for n in re.findall(
        tool.encode() + rb": (\d+) " + what + rb" ended at a switch the kernel ran no BPF "
        rb"program for; timed from the task's run time\n", err))


def _open_stretch(c: Child, tool: ToolRun, map_name: str) -> int:
    """Hand the child the tool's map, then stop the tool; the ns the child's part took
    (the bound on the error)."""
    try:
        c.p.stdin.write("open\n%d\n" % _map_id(tool.p.pid, map_name))
        c.p.stdin.flush()
        took = int(c.go().split()[-1])
    finally:
        tool.kill() if c.p.returncode != 0 else None
        c.p.kill()
    tool.stop()
    return took


_HIST_VALUE = f'struct.pack("<QQQ", t - {D_US * 1000}, e, runs - 1)'


@pytest.mark.parametrize("tool, args, banner", [
    ("cpudist", ("-O", "-e"), "Tracing off-CPU"),
    ("runqlat", (), "Tracing run queue"),
])
def test_histogram_tools_time_a_stretch_whose_switch_in_was_unseen(tool, args, banner):
    """cpudist -O: an off-CPU stretch; runqlat: a wait on the run queue."""
    c = Child(_OPEN.replace("VALUE", _HIST_VALUE))
    t = ToolRun(tool, *args, "-P", "-p", str(c.pid), "--json", ready=banner)
    _open_stretch(c, t, "start")
    (rec,) = t.json()
    (h,) = [h for h in rec["hists"] if h["pid"] == c.pid]
    # the stretch made, timed: D plus at most the wall time of the child's part that was
    # not run time; nothing else of the child's lasts a second
    assert [b for b in h["buckets"] if b["low"] >= 1 << 20] == [
        {"low": 2097152, "high": 4194303, "count": 1}], h
    if "-e" in args:
        assert rec["count"] == h["total"], rec
    assert _unseen(tool, t.err) >= 1, t.err


def test_offcputime_charges_a_stretch_whose_switch_in_was_unseen():
    # the stretch's key: the child's pid and tid, no stacks, comm "unseen"
    value = (f'struct.pack("<QQIIii16s", t - {D_US * 1000}, e, os.getpid(), '
             'threading.get_native_id(), -1, -1, b"unseen")')
    c = Child(_OPEN.replace("VALUE", value))
    t = ToolRun("offcputime", "-f", "-p", str(c.pid), "-U", ready="Tracing off-CPU")
    took = _open_stretch(c, t, "starts")
    (line,) = [r for r in t.raw if r.startswith(b"unseen ")]
    us = int(line.split()[1])
    # D, and at most the wall time of the child's part that the scheduler did not
    # count as its run time (a stretch timed from run time can only come out longer)
    assert D_US <= us <= D_US + took // 1000 + 1, (us, took)
    assert _unseen("offcputime", t.err) >= 1, t.err


# A real workload: many sleeps beside two busy loops, every one counted.  Here about one
# switch-in in 500 of the child's comes from a switch no program runs for (the sandbox
# init's threads leave the CPU often); elsewhere there may be none.
N_SLEEPS = 150


def test_cpudist_offcpu_counts_every_sleep_under_load():
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        c = Child("import resource, time\n"
                  f"for _ in range({N_SLEEPS}): time.sleep(0.02)\n"
                  "r = resource.getrusage(resource.RUSAGE_THREAD)\n"
                  "print(r.ru_nvcsw, r.ru_nivcsw)\n")
        t = ToolRun("cpudist", "-O", "-P", "-p", str(c.pid), "--json",
                    ready="Tracing off-CPU")
        _, nivcsw = map(int, c.go(timeout=120).split())
        t.stop()
    finally:
        for p in busy:
            p.kill()
            p.wait()
    (rec,) = t.json()
    (h,) = [h for h in rec["hists"] if h["pid"] == c.pid]
    long = sum(b["count"] for b in h["buckets"] if b["low"] >= 16384)
    # every sleep's stretch (20 ms, at least 16384 us), and beyond them only waits for a
    # CPU after a preemption (each an involuntary switch the child counted) that long
    assert N_SLEEPS <= long <= N_SLEEPS + nivcsw, (h, nivcsw, t.err)
    assert b"lost" not in t.err and b"missed" not in t.err, t.err


# On-CPU cpudist: a run whose switch-in no program saw.  The state such a switch leaves:
# the thread's entry as its last switch-out left it (ts 0: no run open; its run time and
# switch-ins then).  The child runs 0.6 s in runs of 5 ms or less, then makes that state
# as if it had left the CPU with RUN_US less run time and one switch-in fewer, and
# sleeps: that switch-out finds RUN_US of run time (plus the few us since) and exactly
# one switch-in since.  (A run time cannot be made up: the child's own must exceed it.)
RUN_US = 500_000        # bucket 262144..524287 us; the child's own runs: shorter
_ONCPU = """
import struct, threading, time
from pybpf.maps import Map
m = Map.from_id(int(sys.stdin.readline()))
while time.thread_time_ns() < 600_000_000:
    end = time.thread_time_ns() + 5_000_000
    while time.thread_time_ns() < end:
        pass
    time.sleep(0.001)
with open("/proc/thread-self/schedstat") as f:
    runs = int(f.read().split()[2])     # its switch-ins so far (sched_info.pcount)
e = time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID)
m.update(struct.pack("<I", threading.get_native_id()),
         struct.pack("<QQQ", 0, e - RUN_NS, runs - SINCE))
time.sleep(0.05)
print(time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID) - e, flush=True)
""".replace("RUN_NS", str(RUN_US * 1000))


def test_cpudist_times_a_run_whose_switch_in_was_unseen():
    c = Child(_ONCPU.replace("SINCE", "1"))
    t = ToolRun("cpudist", "-e", "-L", "-p", str(c.pid), "--json", ready="Tracing on-CPU")
    _open_stretch(c, t, "start")
    (rec,) = t.json()
    (h,) = [h for h in rec["hists"] if h["tid"] == c.pid]
    # the run made, timed: RUN_US plus the child's few us of run time since; no other
    # run of the child's (its imports, its exit) lasts 262 ms (before the fix: now - 0,
    # the time since boot).  Under 64 ms here; up to 131 ms in the emulated guest.
    assert [b for b in h["buckets"] if b["low"] >= 262144] == [
        {"low": 262144, "high": 524287, "count": 1}], h
    assert rec["count"] == h["total"], rec
    assert b"lost" not in t.err and b"missed" not in t.err, t.err
    assert re.search(rb"cpudist: [1-9]\d* on-CPU runs began at a switch the kernel ran no "
                     rb"BPF program for; timed from the task's run time\n", t.err), t.err


def test_cpudist_counts_a_run_it_cannot_time_lost():
    """Two switch-ins since the last switch-out seen: the run time since covers two runs
    (and the time off the CPU between them is not known), so neither is timed."""
    c = Child(_ONCPU.replace("SINCE", "2"))
    t = ToolRun("cpudist", "-L", "-p", str(c.pid), "--json", ready="Tracing on-CPU")
    _open_stretch(c, t, "start")
    (rec,) = t.json()
    (h,) = [h for h in rec["hists"] if h["tid"] == c.pid]
    # not the made-up run (RUN_US: 262144 us and up) nor the time since boot.  The
    # child's own runs (5 ms of its run time each) took 65 ms and more of wall time in the
    # emulated guest beside a loaded host (6.1 at load 13-20), so no tighter bound
    assert [b for b in h["buckets"] if b["low"] >= 262144] == [], h
    assert b"cpudist: lost 1 on-CPU runs (began at a switch the kernel ran no BPF program " \
        b"for)\n" in t.err, t.err


def _asleep(pid: int) -> tuple[int, int]:
    """``pid``'s run time (ns) and switch-ins so far, once it is asleep (in its read)."""
    while True:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "S":
                return _schedstat(pid)
        time.sleep(0.001)


def _schedstat(pid: int) -> tuple[int, int]:
    """``pid``'s run time (ns) and switch-ins so far (a zombie's too, until reaped)."""
    with open(f"/proc/{pid}/schedstat") as f:
        ran, _, runs = map(int, f.read().split())
    return ran, runs


def _entry_gone(tool: ToolRun, tid: int) -> bool:
    """Whether ``tid``'s entry left the tool's start map within a second."""
    from pybpf.maps import Map
    with Map.from_id(_map_id(tool.p.pid, "start")) as m:
        for _ in range(100):
            if tid.to_bytes(4, "little") not in (k for k, _ in m.items_raw()):
                return True
            time.sleep(0.01)
    return False


N_RUNS = 1000


def test_cpudist_counts_every_run_under_load():
    """A child busy-looping 1 ms of its run time between 1 ms sleeps, beside two busy
    loops: every one of its runs counted, and their total its run time.  About one
    switch-in in 500 is unseen here: a thousand sleeps and the preemptions between them
    miss a few without the fix."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    p = t = None
    try:
        # the child, asleep while the tool starts, wakes once ("warm"; a task's first
        # run seen, whose switch-in may be unseen, is not timed: then its switch-out
        # makes the entry its runs are timed from), then does its N_RUNS busy
        # stretches and sleeps and exits
        code = ("import sys, time\n"
                "print('ready', flush=True)\n"
                "sys.stdin.readline()\n"
                "print('warm', flush=True)\n"
                "sys.stdin.readline()\n"
                f"for _ in range({N_RUNS}):\n"
                "    end = time.thread_time_ns() + 1_000_000\n"
                "    while time.thread_time_ns() < end:\n"
                "        pass\n"
                "    time.sleep(0.001)\n")
        p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline() == "ready\n"
        t = ToolRun("cpudist", "-e", "-P", "-p", str(p.pid), "--json",
                    ready="Tracing on-CPU")
        ran0, runs0 = _asleep(p.pid)
        p.stdin.write("warm\n")
        p.stdin.flush()
        assert p.stdout.readline() == "warm\n"
        _asleep(p.pid)
        p.stdin.write("go\n")
        p.stdin.close()
        # its end, not reaped: its counters stay readable
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
        ran1, runs1 = _schedstat(p.pid)
        # its last switch-out (just after its parent was told) dropped its entry
        assert _entry_gone(t, p.pid), "the exited child's entry stayed"
        t.stop()
    finally:
        t.kill() if t is not None else None      # (stopped already, unless it failed)
        for q in busy + [p] * (p is not None):
            q.kill()
            q.wait()
    (rec,) = t.json()
    (h,) = [h for h in rec["hists"] if h["pid"] == p.pid]
    runs, ran_us = runs1 - runs0, (ran1 - ran0) // 1000
    # all its runs since the tool started; but the first if its switch-in was unseen
    assert h["total"] == rec["count"] and runs - 1 <= h["total"] <= runs, (h, runs, t.err)
    # each run's length in whole microseconds, from the tracepoint's clock, not the
    # scheduler's (which starts a run's time before the tracepoint, at the pick, and
    # leaves steal time out): here 1-5 us a run short of its run time, 20 us allowed
    # (a lost 1 ms run shows in the count; how an unseen run is timed, above).  Above it,
    # 50 us: a busy host's steal time (27 ms over 1225 runs seen once in five) is in
    # the tracepoint's clock only
    assert ran_us - 20 * runs <= rec["total"] <= ran_us + 50 * runs, (rec, ran_us, t.err)
    assert b"lost" not in t.err and b"missed" not in t.err, t.err
