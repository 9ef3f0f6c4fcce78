"""Property tests: mutated BTF and ELF bytes from a real object go into the parsers; only
pybpf errors may come out (never IndexError, struct.error, UnicodeDecodeError, ...), and
no input hangs."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pybpf
from pybpf import errors
from pybpf.btf.spec import Spec

SRC = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, u32); __type(value, u64);
         __uint(max_entries, 8); } counts SEC(".maps");
const volatile int knob = 3;
static __noinline int helper(int x) { return x * knob; }
SEC("tracepoint/syscalls/sys_enter_getpid")
int prog(void *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    u32 k = BPF_CORE_READ(t, tgid);
    u64 one = helper(1);
    bpf_map_update_elem(&counts, &k, &one, BPF_ANY);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def obj_bytes() -> bytes:
    return pybpf.compile(SRC)


@pytest.fixture(scope="module")
def btf_bytes(obj_bytes) -> bytes:
    from pybpf.elf import ELFFile
    elf = ELFFile(obj_bytes)
    return bytes(elf.section(".BTF").data)


@contextmanager
def _budget(seconds: int = 2):
    """Fail (as a hang) if one parse takes longer than ``seconds``."""
    def boom(*_):
        raise TimeoutError("parser hung")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    b = bytearray(data)
    for pos, val in flips:
        if b:
            b[pos % len(b)] = val
    if cut is not None and b:
        b = b[:cut % (len(b) + 1)]
    return bytes(b)


MUTATIONS = dict(flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)),
                                max_size=8),
                 cut=st.none() | st.integers(0, 1 << 20))
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _decode_all(spec: Spec) -> None:
    for i in range(len(spec)):
        t = spec[i]
        if getattr(t, "name", None) is not None:
            spec.sizeof(i)


@SETTINGS
@given(**MUTATIONS)
def test_mutated_btf_gives_only_btf_errors(btf_bytes, flips, cut):
    data = _mutate(btf_bytes, flips, cut)
    with _budget():
        try:
            spec = Spec.parse(data)
            _decode_all(spec)
            spec.to_bytes()
        except errors.PybpfError:
            pass


@SETTINGS
@given(**MUTATIONS)
def test_mutated_elf_gives_only_pybpf_errors(obj_bytes, flips, cut):
    data = _mutate(obj_bytes, flips, cut)
    with _budget():
        try:
            pybpf.ObjectSpec.from_bytes(data)
        except errors.PybpfError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes(data):
    with _budget():
        for parse in (Spec.parse, pybpf.ObjectSpec.from_bytes):
            try:
                parse(data)
            except errors.PybpfError:
                pass


@pytest.fixture(scope="module")
def legacy_bytes() -> tuple[bytes, int, int]:
    """An object with iproute2-style SEC("maps") definitions, and where its maps section
    lies in the file (so mutations can aim at the definitions)."""
    import os
    from pybpf.elf import ELFFile
    data = pybpf.compile(os.path.join(os.path.dirname(__file__), "data", "legacy_maps.bpf.c"))
    sec = ELFFile(data).section("maps")
    return data, sec.offset, sec.size


@SETTINGS
@given(flips=st.lists(st.tuples(st.integers(0, 1 << 10), st.integers(0, 255)), min_size=1,
                      max_size=6))
def test_mutated_legacy_map_definitions_give_only_pybpf_errors(legacy_bytes, flips):
    """bpf_elf_map tails (id, pinning, inner_id, inner_idx) and sizes in any state."""
    data, off, size = legacy_bytes
    b = bytearray(data)
    for pos, val in flips:
        b[off + pos % size] = val
    with _budget():
        try:
            spec = pybpf.ObjectSpec.from_bytes(bytes(b))
            assert all(m.pinning in (0, 1) for m in spec.maps.values())
        except errors.PybpfError:
            pass
