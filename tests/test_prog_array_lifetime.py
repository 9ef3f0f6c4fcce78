"""Program arrays outlive nothing: loading, filling and closing tail-call objects (also
when a load fails after the array was filled, or the loader is killed) leaves no
prog_array in the kernel, even when maps are opened by id right after the close, which
on kernels with the deferred-clear race pins the array forever unless pybpf holds such
fds a moment (docs/prog-array-lifetime.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

import pybpf
from pybpf import errors, info
from pybpf._sys.uapi import MapType

pytestmark = pytest.mark.kernel

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
TAILCALL = os.path.join(CORPUS, "tailcall.bpf.c")     # socket filters, prog array "parsers"
XDP = os.path.join(CORPUS, "xdp.bpf.c")               # XDP, prog array "jumps"
ROUNDS = 3


def _alive_after(ids, timeout: float = 5.0) -> set[int]:
    """Those of map ``ids`` still alive once the kernel had ``timeout`` s to free them
    (it frees closed maps and programs asynchronously: RCU, then workqueues)."""
    end = time.monotonic() + timeout
    while True:
        alive = set(ids) & set(info.ids("map"))
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.05)


@contextmanager
def _kworker_held_off():
    """Run on one CPU at real-time priority: that CPU's kworker cannot start the
    kernel's deferred prog_array clear until this thread sleeps, so the window the race
    needs is open on every round (deterministic, not a busy host's luck)."""
    old_aff = os.sched_getaffinity(0)
    old_policy, old_param = os.sched_getscheduler(0), os.sched_getparam(0)
    os.sched_setaffinity(0, {min(old_aff)})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(1))
    except PermissionError:
        pass       # no CAP_SYS_NICE: the same checks, with the window left to chance
    try:
        yield
    finally:
        os.sched_setscheduler(0, old_policy, old_param)
        os.sched_setaffinity(0, old_aff)


@pytest.fixture(scope="module")
def objects():
    """The two corpus objects, compiled once (through pybpf's cache)."""
    from pybpf.toolchain import compile as compile_c
    return {"parsers": compile_c(TAILCALL), "jumps": compile_c(XDP)}


def test_objects_fill_their_prog_arrays(objects):
    """The premise: the loader fills the arrays from the objects' initial slots."""
    with pybpf.load(objects["parsers"], name="tailcall") as obj:
        pa = obj.maps["parsers"]
        assert pa.type == MapType.PROG_ARRAY
        slots = {k: int.from_bytes(pa.lookup_raw(k.to_bytes(4, "little")), "little")
                 for k in (2, 5)}   # from the kernel: a prog array slot reads as a prog id
        assert slots == {2: obj.programs["parse_ipv4"].id, 5: obj.programs["parse_ipv6"].id}
    with pybpf.load(objects["jumps"], name="xdp") as obj:
        assert int.from_bytes(obj.maps["jumps"].lookup_raw(b"\1\0\0\0"), "little") == \
            obj.programs["xdp_tail"].id


@pytest.mark.parametrize("reopen", ["from_id", "list_objects"])
def test_prog_arrays_opened_by_id_after_close_are_freed(objects, reopen):
    """Close a filled array, then open it by id and close that fd at once (what the
    suite's leak check, list_objects() and bpftool do): the array must still go away."""
    ids = []
    for _ in range(ROUNDS):
        for mapname, data in objects.items():
            obj = pybpf.load(data, name=mapname)
            map_id = obj.maps[mapname].id
            ids.append(map_id)
            with _kworker_held_off():
                obj.close()            # last user reference: the kernel queues the clear
                if reopen == "from_id":
                    pybpf.Map.from_id(map_id).close()
                else:
                    assert map_id in {m.id for m in info.list_objects("map")}
    assert _alive_after(ids) == set()


def test_load_failing_after_the_array_is_filled_leaves_nothing(objects):
    """A load that fails while filling the array (slot 2 filled, slot 5 refused: an XDP
    program in a socket filter's array) closes everything, and the array goes away."""
    ids = []
    for _ in range(ROUNDS):
        pa = pybpf.Map.create(MapType.PROG_ARRAY, 4, 4, 8, name="parsers")
        ids.append(pa.id)
        with pytest.raises(errors.KernelError):
            pybpf.load(objects["parsers"], name="tailcall", maps={"parsers": pa},
                       sections={"parse_ipv6": "xdp"})
        assert pa.lookup_raw(b"\2\0\0\0") is not None     # it was filled before failing
        with _kworker_held_off():
            pa.close()
            pybpf.Map.from_id(ids[-1]).close()
    assert _alive_after(ids) == set()


_KILLED_CHILD = """
import sys, pybpf
from pybpf._sys.uapi import MapType
data = open(sys.argv[1], "rb").read()
while True:
    pa = pybpf.Map.create(MapType.PROG_ARRAY, 4, 4, 8, name="parsers")
    print(pa.id, flush=True)             # known before the load that may be killed
    obj = pybpf.load(data, name="tailcall", maps={"parsers": pa})
    pa.close()
    obj.close()
"""


def test_killed_loader_leaves_no_prog_array(objects, tmp_path):
    """A loader killed at any point (mid-load included) leaves nothing, with its maps
    listed by id the moment it dies."""
    obj_path = tmp_path / "tailcall.bpf.o"
    obj_path.write_bytes(objects["parsers"])
    ids = []
    # killed at once, 50 ms in, and once it has been round the loop twice: a loop's
    # length is a busy machine's to choose (over 0.3 s here under CI-like load), so the
    # last waits for the arrays it makes rather than for a time
    for delay, rounds in ((0.0, 1), (0.05, 1), (0.05, 3)):
        proc = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(obj_path)],
                                stdout=subprocess.PIPE, text=True)
        try:
            for _ in range(rounds):
                ids.append(int(proc.stdout.readline()))
            time.sleep(delay)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        info.list_objects("map")                       # the dead loader's maps, by id
        ids += [int(line) for line in proc.stdout.read().split()]
        proc.stdout.close()
    assert len(ids) > 3
    assert _alive_after(ids) == set()


class _Clock:
    """Stands in for info's ``time``: records sleeps, which advance it."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_only_prog_arrays_opened_by_id_are_held(monkeypatch):
    """A by-id prog_array fd closes once it has been open PROG_ARRAY_HOLD s (also a
    dup of it); other maps close at once; list_objects holds its arrays once, together."""
    clock = _Clock()
    monkeypatch.setattr(info, "time", clock)
    with pybpf.Map.create(MapType.HASH, 4, 4, 1, name="hleak_hash") as h, \
            pybpf.Map.create(MapType.PROG_ARRAY, 4, 4, 1, name="hleak_pa1") as pa1, \
            pybpf.Map.create(MapType.PROG_ARRAY, 4, 4, 1, name="hleak_pa2") as pa2:
        info.fd_by_id("map", h.id).close()
        assert clock.sleeps == []
        fd = info.fd_by_id("map", pa1.id)
        clock.now += 0.05
        fd.close()
        fd.close()                                      # idempotent: no second hold
        assert clock.sleeps == [pytest.approx(info.PROG_ARRAY_HOLD - 0.05)]
        fd = info.fd_by_id("map", pa1.id)
        clock.now += info.PROG_ARRAY_HOLD               # held long enough already
        fd.close()
        assert len(clock.sleeps) == 1
        fd = info.fd_by_id("map", pa2.id)
        again = fd.dup()
        fd.close()
        again.close()                                   # the dup's hold ran out with fd's
        assert len(clock.sleeps) == 2
        del clock.sleeps[:]
        listed = {m.id: m.type for m in info.list_objects("map")}
        assert listed[pa1.id] == listed[pa2.id] == MapType.PROG_ARRAY
        assert clock.sleeps == [pytest.approx(info.PROG_ARRAY_HOLD)]   # one for all arrays
