"""mapcheck: the rule behind a bare EINVAL from BPF_MAP_CREATE, per map type (pure)."""

from __future__ import annotations

import pytest

from pybpf.mapcheck import explain

RINGBUF, PERF, HASH, ARRAY, PROG_ARRAY, LPM, TASK_STORAGE, QUEUE, BLOOM, OUTER = \
    27, 4, 1, 2, 3, 11, 29, 22, 30, 12


@pytest.mark.parametrize("args,words", [
    ((RINGBUF, 0, 4, 1 << 24), "takes no key or value"),
    ((RINGBUF, 0, 0, 5000), "power of 2"),
    ((PERF, 4, 16, 0), "perf event array"),
    ((PERF, 0, 0, 0), "perf event array"),
    ((HASH, 0, 8, 10), "need a key"),
    ((HASH, 4, 0, 10), "value_size is 0"),
    ((HASH, 4, 8, 0), "max_entries is 0"),
    ((ARRAY, 8, 8, 1), "4-byte key"),
    ((PROG_ARRAY, 4, 8, 1), "4-byte fds"),
    ((OUTER, 4, 8, 1), "4-byte fds"),
    ((LPM, 8, 8, 16), "BPF_F_NO_PREALLOC"),
    ((TASK_STORAGE, 4, 8, 0), "BPF_F_NO_PREALLOC"),
    ((QUEUE, 4, 8, 16), "no key"),
])
def test_broken_rules_are_named(args, words):
    assert words in explain(*args)


@pytest.mark.parametrize("args", [
    (RINGBUF, 0, 0, 1 << 24), (PERF, 4, 4, 0), (HASH, 4, 8, 10),
    (ARRAY, 4, 8, 1), (PROG_ARRAY, 4, 4, 2), (QUEUE, 0, 8, 16), (999, 1, 1, 1),
])
def test_valid_definitions_have_no_explanation(args):
    assert explain(*args) is None


def test_flags_and_extra():
    assert explain(LPM, 8, 8, 16, flags=1) is None
    assert explain(LPM, 4, 8, 16, flags=1).startswith("an LPM trie key")
    assert explain(TASK_STORAGE, 4, 8, 0, flags=1) is None
    assert "max_entries 0" in explain(TASK_STORAGE, 4, 8, 5, flags=1)
    assert "at most 15" in explain(BLOOM, 0, 8, 100, map_extra=16)


def test_ring_buffer_sizes_are_rounded_as_libbpf_rounds_them():
    from pybpf.mapcheck import ringbuf_size
    assert [ringbuf_size(n) for n in (0, 8, 4096, 4097, 8192, 12288, 1 << 20)] == \
        [0, 4096, 4096, 8192, 8192, 16384, 1 << 20]


@pytest.mark.kernel
def test_a_small_ring_buffer_is_created_a_page_long():
    """The selftests' ``__uint(max_entries, 8)`` user ring buffer: libbpf makes it one
    page at open, and so does pybpf (and again for a size set after open)."""
    import pybpf
    src = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_USER_RINGBUF); __uint(max_entries, 8); } urb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(".maps");
SEC("socket") int f(struct __sk_buff *skb) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(src), name="rbsize")
    assert spec.maps["urb"].max_entries == 4096
    spec.maps["rb"].max_entries = 5000
    with pybpf.load(spec) as obj:
        assert obj.maps["urb"].max_entries == 4096
        assert obj.maps["rb"].max_entries == 8192
