"""Histogram bucket math: bounds per bucket type, cumulative folding, the sum key, and the
BPF side's exp2 bucket (ceil log2) checked against its C implementation by test_run."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from pybpf.exporter.histogram import Buckets


def test_exp2_bounds_and_multiplier():
    b = Buckets("exp2", 0, 3, 0.5)
    assert b.bounds == [0.5, 1.0, 2.0, 4.0]
    assert b.le == ["0.5", "1.0", "2.0", "4.0", "+Inf"]
    assert b.sum_key == 4


def test_exp2_microseconds_to_seconds_le_text():
    b = Buckets("exp2", 0, 26, 0.000001)
    assert b.le[0] == "1e-06" and b.le[10] == "0.001024" and b.le[-2] == "67.108864"


def test_linear_bounds():
    b = Buckets("linear", 1, 4, 10)
    assert b.bounds == [10, 20, 30, 40] and b.sum_key == 5


def test_fixed_bounds_and_sum_key():
    b = Buckets("fixed", multiplier=0.001, keys=[1, 10, 100])
    assert b.bounds == [0.001, 0.01, 0.1] and b.sum_key == 101


def test_fold_cumulative_count_and_sum():
    b = Buckets("exp2", 0, 3)
    cum, count, total = b.fold({0: 2, 2: 3, 3: 1, 4: 1234})   # 4 = sum key
    assert cum == [2, 2, 5, 6, 6] and count == 6 and total == 1234


def test_fold_indices_outside_the_range():
    b = Buckets("exp2", 2, 4)
    # below bucket_min: within the first bound (cumulative); past the sum key: +Inf only
    cum, count, _ = b.fold({0: 1, 1: 1, 3: 1, 9: 5})
    assert cum == [2, 3, 3, 8] and count == 8


def test_fold_fixed_between_keys_counts_in_the_next_bucket():
    b = Buckets("fixed", keys=[10, 20, 50])
    cum, count, total = b.fold({10: 1, 15: 2, 50: 4, 51: 700})
    assert cum == [1, 3, 7, 7] and count == 7 and total == 700


def test_fold_sum_uses_the_multiplier():
    b = Buckets("exp2", 0, 1, 0.001)
    assert b.fold({2: 1500})[2] == pytest.approx(1.5)


def test_fold_empty():
    assert Buckets("linear", 0, 2).fold({}) == ([0, 0, 0, 0], 0, 0.0)


@given(st.dictionaries(st.integers(0, 40), st.integers(0, 10 ** 12), max_size=40))
def test_fold_invariants(counts):
    b = Buckets("exp2", 3, 30)
    cum, count, total = b.fold(counts)
    assert cum == sorted(cum)                        # cumulative: never decreasing
    assert cum[-1] == count                          # +Inf is the count
    assert count == sum(n for i, n in counts.items() if i != b.sum_key)
    assert total == counts.get(b.sum_key, 0)


@pytest.mark.kernel
def test_bpf_exp2_bucket_is_ceil_log2():
    """pybpf_exporter.h's exp2_bucket() in the kernel: run it over edge values by
    BPF_PROG_TEST_RUN and compare with the definition (v <= 2**i, smallest i)."""
    import pybpf
    from pybpf.exporter.config import EXAMPLES_DIR
    src = b"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf_exporter.h"
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);
         __type(value, __u64); } pt_in SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);
         __type(value, __u64); } pt_out SEC(".maps");
SEC("syscall") int pt_exp2(void *ctx) {
    __u32 z = 0; __u64 *in = bpf_map_lookup_elem(&pt_in, &z), r;
    if (!in) return 0;
    r = exp2_bucket(*in);
    bpf_map_update_elem(&pt_out, &z, &r, BPF_ANY);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""
    obj = pybpf.compile(src, includes=[EXAMPLES_DIR])
    values = [0, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 1023, 1024, 1025, 2 ** 31, 2 ** 31 + 1,
              2 ** 32, 2 ** 32 + 1, 2 ** 40 - 1, 2 ** 63, 2 ** 64 - 1]
    with pybpf.load(obj, name="pt_exp2") as o:
        for v in values:
            o.maps["pt_in"][0] = v
            o.programs["pt_exp2"].test_run(repeat=0)
            got = int.from_bytes(o.maps["pt_out"][0], "little")
            # the definition: the smallest i with v <= 2**i
            assert v <= 2 ** got and (got == 0 or v > 2 ** (got - 1)), (v, got)
