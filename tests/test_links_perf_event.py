"""perf_event programs sampling the software cpu-clock on every CPU."""

from __future__ import annotations

import os
import time

import pytest

from pybpf._sys import perf
from pybpf._sys.uapi import ProgType
from pybpf.links import perf_event
from tests.data.linkprogs import no_leaked_fds  # noqa: F401  (autouse)
from tests.data.linkprogs import ArrayMap, counter_prog

pytestmark = pytest.mark.kernel

FREQ = 1000


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_online_cpus_parses_ranges(tmp_path):
    p = tmp_path / "online"
    p.write_text("0-3,5,7-8\n")
    assert perf_event.online_cpus(str(p)) == [0, 1, 2, 3, 5, 7, 8]
    assert perf_event.online_cpus() == sorted(perf_event.online_cpus())


def test_cpu_clock_samples_on_all_cpus():
    cpus = perf_event.online_cpus()
    with ArrayMap("pt_pe_cnt", entries=max(cpus) + 1) as m, \
            counter_prog(ProgType.PERF_EVENT, m.fd.fileno(), "pt_perf_event",
                         key_from_cpu=True) as prog:
        with perf_event.attach(prog, sample_freq=FREQ) as link:
            assert link.kind == "perf_event"
            orig = os.sched_getaffinity(0)
            try:
                for cpu in sorted(orig):      # busy on each CPU in turn (idle ones may not tick)
                    os.sched_setaffinity(0, {cpu})
                    _spin(0.3 / len(orig))
            finally:
                os.sched_setaffinity(0, orig)
        counts = [m.read(c) for c in cpus]
        total = sum(counts)
        _spin(0.05)
        assert sum(m.read(c) for c in cpus) == total     # closed: no more samples
    # 0.3 s of busy time at 1000 Hz in all, and every CPU we were allowed on sampled
    assert total >= 0.3 * FREQ * 0.5, counts
    assert all(counts[cpus.index(c)] for c in orig if c in cpus), counts


def test_single_cpu_and_this_process():
    with ArrayMap("pt_pe_one", entries=os.cpu_count() or 1) as m, \
            counter_prog(ProgType.PERF_EVENT, m.fd.fileno(), "pt_perf_pid") as prog:
        with perf_event.attach(prog, sample_period=100_000, pid=os.getpid()):   # 0.1 ms
            _spin(0.2)
        assert m.read() > 100
    cpu = perf_event.online_cpus()[-1]
    with ArrayMap("pt_pe_cpu", entries=cpu + 1) as m, \
            counter_prog(ProgType.PERF_EVENT, m.fd.fileno(), "pt_perf_cpu",
                         key_from_cpu=True) as prog:
        orig = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
        try:
            with perf_event.attach(prog, type=perf.TYPE_SOFTWARE,
                                   config=perf.COUNT_SW_CPU_CLOCK, sample_freq=FREQ, cpu=cpu):
                _spin(0.2)
        finally:
            os.sched_setaffinity(0, orig)
        counts = [m.read(c) for c in range(cpu + 1)]
        assert counts[cpu] > 0 and sum(counts) == counts[cpu], counts


def test_needs_period_or_freq():
    with ArrayMap("pt_pe_bad") as m, counter_prog(ProgType.PERF_EVENT, m.fd.fileno(),
                                                  "pt_perf_bad") as prog:
        with pytest.raises(ValueError):
            perf_event.attach(prog)
        with pytest.raises(ValueError):
            perf_event.attach(prog, sample_period=1, sample_freq=1)
