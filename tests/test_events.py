"""Event streams against the kernel: ring buffer, perf buffer, trace_pipe."""

from __future__ import annotations

import ctypes
import os
import struct

import pytest

import pybpf
from pybpf import tracepipe
from pybpf.perfbuf import PerfBuffer
from pybpf.ringbuf import RingBuffer

pytestmark = pytest.mark.kernel

SRC = r'''
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096 * 4); } rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4);
         __uint(value_size, 4); } pb SEC(".maps");
const volatile __u32 target_tgid = 0;
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    __u64 rec[8] = { tgid, 0x5eed };
    if (tgid != target_tgid)
        return 0;
    bpf_ringbuf_output(&rb, rec, sizeof(rec), 0);
    bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, rec, sizeof(rec));
    bpf_printk("pt_printk %d", tgid);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
'''


@pytest.fixture(scope="module")
def obj_bytes():
    return pybpf.compile(SRC)


def _loaded(obj_bytes):
    spec = pybpf.ObjectSpec.from_bytes(obj_bytes, name="pt_events")
    spec.maps[".rodata"].set_var("target_tgid", os.getpid())
    return pybpf.load(spec)


def test_ringbuf_and_perfbuf_deliver_64_byte_records(obj_bytes):
    got_perf = []
    with _loaded(obj_bytes) as obj:
        obj.attach()
        with RingBuffer(obj.maps["rb"]) as rb, \
                PerfBuffer(obj.maps["pb"], lambda cpu, d: got_perf.append(bytes(d))) as pb:
            for _ in range(10):
                os.getppid()
            recs = [bytes(r) for r in rb.poll(1000)]
            pb.poll(1000)
            assert pb.lost == 0
    assert len(recs) == 10
    assert all(struct.unpack_from("<QQ", r) == (os.getpid(), 0x5EED) for r in recs)
    assert len(recs[0]) == 64
    assert len(got_perf) == 10
    assert struct.unpack_from("<QQ", got_perf[0][:16]) == (os.getpid(), 0x5EED)


def test_ringbuf_drain_of_the_present_ends_while_the_program_writes(obj_bytes):
    """consume(present=True) yields the records written before the call and none written
    while it runs (a tool's drain at Ctrl-C, its programs still attached)."""
    with _loaded(obj_bytes) as obj:
        obj.attach()
        with RingBuffer(obj.maps["rb"]) as rb:
            for _ in range(3):
                os.getppid()
            got = 0
            for _ in rb.consume(present=True):
                got += 1
                os.getppid()            # written meanwhile: for the next read
            assert got == 3
            assert len(list(rb.consume())) == 3


def test_trace_pipe_parses_bpf_printk(obj_bytes):
    with _loaded(obj_bytes) as obj, tracepipe.TracePipe() as tp:
        obj.attach()
        os.getppid()
        found = [e for e in tp.events(timeout=2.0) if e.msg == f"pt_printk {os.getpid()}"]
        assert found and found[0].pid == os.getpid()


def test_parse_trace_line():
    ev = tracepipe.parse("          python-1234    [001] d..31  5678.901234: "
                         "bpf_trace_printk: hello world")
    assert (ev.task, ev.pid, ev.cpu, ev.ts, ev.msg) == ("python", 1234, 1, 5678.901234,
                                                        "hello world")
    assert tracepipe.parse("CPU:1 [LOST 3 EVENTS]") is None


class _Rec(ctypes.Structure):
    _fields_ = [("tgid", ctypes.c_uint64), ("magic", ctypes.c_uint64),
                ("rest", ctypes.c_uint64 * 6)]


def test_batches_decode_into_ctypes_and_struct(obj_bytes):
    """read(): one call returns every ready record, decoded as a ctypes type, a
    struct.Struct, a callable or bytes."""
    head = struct.Struct("<QQ")
    with pybpf.load(obj_bytes, name="pt_events", variables={"target_tgid": os.getpid()}) as obj:
        obj.attach()
        with RingBuffer(obj.maps["rb"]) as rb, \
                PerfBuffer(obj.maps["pb"], lambda cpu, d: None) as pb:
            for _ in range(5):
                os.getppid()
            as_ctypes = rb.read(1000, decode=_Rec, limit=3)
            as_tuples = rb.read(1000, decode=head)
            assert rb.read(0) == []
            perf = pb.read(1000, decode=head)
            for _ in range(2):
                os.getppid()
            as_bytes = rb.read(1000)
            as_len = rb.read(0, decode=len)
    assert [(r.tgid, r.magic) for r in as_ctypes] == [(os.getpid(), 0x5EED)] * 3
    assert as_tuples == [(os.getpid(), 0x5EED)] * 2
    assert [v for _, v in perf] == [(os.getpid(), 0x5EED)] * 5
    assert all(0 <= cpu < os.cpu_count() for cpu, _ in perf)
    assert len(as_bytes) == 2 and all(isinstance(b, bytes) and len(b) == 64 for b in as_bytes)
    assert as_len == []


def test_perf_buffer_that_falls_behind_reports_lost_samples(obj_bytes):
    """Nothing is dropped silently: a one-page ring overflows, and every sample is either
    delivered or counted in a lost record.  The kernel writes that record before the next
    sample it has room for, so one more event after the drain brings it."""
    n = 500
    got, lost_cb = [], []
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})     # one ring, so the late lost record is ours
    try:
        with pybpf.load(obj_bytes, name="pt_events",
                        variables={"target_tgid": os.getpid()}) as obj:
            obj.attach()
            with PerfBuffer(obj.maps["pb"], lambda cpu, d: got.append(cpu),
                            lambda cpu, k: lost_cb.append(k), page_cnt=1) as pb:
                for _ in range(n):
                    os.getppid()
                while pb.poll(100):
                    pass
                os.getppid()                 # room again: the lost record comes first
                pb.poll(1000)
                lost = pb.lost
    finally:
        os.sched_setaffinity(0, cpus)
    assert lost > 0 and got
    assert sum(lost_cb) == lost
    assert len(got) + lost == n + 1


def test_a_reader_of_the_wrong_map_says_so(obj_bytes):
    """A perf buffer would write its event fds into any u32 map without this check."""
    with _loaded(obj_bytes) as obj:
        with pytest.raises(ValueError, match=r"^map 'pb' has type perf_event_array: not a "
                                             r"ring buffer \(BPF_MAP_TYPE_RINGBUF\)$"):
            RingBuffer(obj.maps["pb"])
        with pytest.raises(ValueError, match=r"^map 'rb' has type ringbuf: not a perf event "
                                             r"array \(BPF_MAP_TYPE_PERF_EVENT_ARRAY\)$"):
            PerfBuffer(obj.maps["rb"])
        with pytest.raises(ValueError, match=r"rodata' has type array: "):
            PerfBuffer(obj.maps[".rodata"])
