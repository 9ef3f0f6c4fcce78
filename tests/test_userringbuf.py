"""pybpf.userringbuf: samples written from Python are drained by a program with
bpf_user_ringbuf_drain(), in order, including ones that wrap around the ring's end."""

from __future__ import annotations

import ctypes
import os

import pytest

import pybpf
from pybpf import errors
from pybpf.userringbuf import UserRingBuffer

pytestmark = pytest.mark.kernel

SRC = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_USER_RINGBUF); __uint(max_entries, 4096); } urb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(".maps");
int my_pid;
__u64 total, count, last, drained;
static long on_sample(struct bpf_dynptr *d, void *ctx)
{
    __u64 v;
    if (bpf_dynptr_read(&v, sizeof(v), d, 0, 0))
        return 1;
    if (v < last)
        return 1;                       /* out of order: stop */
    last = v;
    total += v;
    count++;
    return 0;
}
SEC("tracepoint/syscalls/sys_enter_getppid") int pt_drain(void *c)
{
    if ((bpf_get_current_pid_tgid() >> 32) != my_pid)
        return 0;
    long n = bpf_user_ringbuf_drain(&urb, on_sample, NULL, 0);
    if (n > 0)
        drained += n;
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_samples_reach_the_program_in_order_across_the_wrap():
    with pybpf.load(pybpf.compile(SRC), name="pt_urb") as obj, \
            UserRingBuffer(obj.maps["urb"]) as urb:
        obj.bss.my_pid = os.getpid()
        obj.attach()
        assert urb.free() == 4096
        want = 0
        for rnd in range(10):       # 10 x 50 samples of 40 (+8) bytes: the 4 KiB ring wraps
            for i in range(50):
                v = rnd * 50 + i + 1
                urb.write(v.to_bytes(8, "little") + bytes(32) if i % 2 else
                          (ctypes.c_uint64 * 5)(v))
                want += v
            os.getppid()
            assert urb.free() == 4096         # all drained
        assert (obj.bss.count, obj.bss.total, obj.bss.drained) == (500, want, 500)


def test_full_and_oversized_samples_and_the_wrong_map():
    with pybpf.load(pybpf.compile(SRC), name="pt_urb") as obj, \
            UserRingBuffer(obj.maps["urb"]) as urb:
        with pytest.raises(ValueError, match="does not fit a 4096-byte user ring buffer"):
            urb.write(bytes(4096))
        for _ in range(4096 // 64):
            urb.write(bytes(56))              # 56 + 8-byte header: exactly full
        with pytest.raises(errors.KernelError, match="ENOSPC.*0 bytes free"):
            urb.write(b"x")
        with pytest.raises(ValueError, match="has type ringbuf: not a user ring buffer"):
            UserRingBuffer(obj.maps["rb"])
