#!/usr/bin/env python3
"""Map throughput from Python: single ops/s, and a full read of a 1M-entry u32->u64 hash map
by batch lookups and by get_next_key.  Needs root."""

from __future__ import annotations

import struct
import time

from pybpf._sys.uapi import MapType
from pybpf.maps import Map

N = 1_000_000


def rate(fn, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


def main() -> None:
    with Map.create(MapType.HASH, 4, 8, N, name="bench_hash") as m:
        ups = rate(lambda i: m.update(i, i), 100_000)
        looks = rate(lambda i: m.lookup_raw(i), 100_000)
        t = time.perf_counter()
        step = 50_000
        for lo in range(0, N, step):
            ks = struct.pack(f"<{step}I", *range(lo, lo + step))
            m.update_batch(ks, struct.pack(f"<{step}Q", *range(lo, lo + step)))
        fill = time.perf_counter() - t
        t = time.perf_counter()
        n = sum(1 for _ in m.items_raw(batch=65536))
        batch_read = time.perf_counter() - t
        assert n == N, n
        t = time.perf_counter()
        n = sum(1 for _ in m._raw_keys())
        keys_only = time.perf_counter() - t
    print("| operation | result |")
    print("|---|---|")
    print(f"| update, one element per call | {ups:,.0f} ops/s |")
    print(f"| lookup, one element per call | {looks:,.0f} ops/s |")
    print(f"| fill 1M entries by update_batch | {fill:.2f} s |")
    print(f"| read all 1M (key, value) pairs by lookup_batch | {batch_read:.2f} s |")
    print(f"| walk 1M keys by get_next_key (keys only) | {keys_only:.2f} s |")


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
