"""Histogram buckets: which upper bound each bucket index of a BPF map stands for, and how a
map's per-index counts become Prometheus' cumulative ``le`` buckets, count and sum.

Bucket types (as in Cloudflare's ebpf_exporter):

- ``exp2``: index ``i`` in ``[bucket_min, bucket_max]`` is the bucket ``le = 2**i *
  bucket_multiplier``; the BPF side puts a value ``v`` in the smallest ``i`` with
  ``v <= 2**i`` (``exp2_bucket()`` in ``pybpf_exporter.h``).
- ``exp2zero``: as ``exp2`` shifted by one to make room for zero: index 0 is ``le = 0``,
  index ``i >= 1`` is ``le = 2**(i-1) * bucket_multiplier``.
- ``linear``: index ``i`` is ``le = i * bucket_multiplier``.
- ``fixed``: the index is the bucket's own key from ``bucket_keys``; ``le = key *
  bucket_multiplier``.

The index just past the last bucket (``bucket_max + 1``, or the last key + 1) optionally
holds the sum of the observed values, in the same unit.  Indices between two bucket keys
count in the next key's bucket (cumulatively, as ``le`` means), indices past the last one
only in ``+Inf`` (the count).
"""

from __future__ import annotations

import bisect
from itertools import accumulate

from prometheus_client.utils import floatToGoString as go_float   # Prometheus' float text


class Buckets:
    """The bucket layout of one histogram metric."""

    def __init__(self, bucket_type: str, bucket_min: int = 0, bucket_max: int = 0,
                 multiplier: float = 1.0, keys=()):
        self.type = bucket_type
        self.multiplier = multiplier
        if bucket_type == "fixed":
            self.keys = [int(k) for k in keys]
            self.bounds = [k * multiplier for k in self.keys]
        elif bucket_type == "exp2":
            self.keys = list(range(bucket_min, bucket_max + 1))
            self.bounds = [float(2 ** i) * multiplier for i in self.keys]
        elif bucket_type == "exp2zero":
            self.keys = list(range(bucket_min, bucket_max + 1))
            self.bounds = [float(2 ** (i - 1)) * multiplier if i else 0.0 for i in self.keys]
        elif bucket_type == "linear":
            self.keys = list(range(bucket_min, bucket_max + 1))
            self.bounds = [i * multiplier for i in self.keys]
        else:
            raise ValueError(f"unknown bucket type {bucket_type!r}")
        if not self.keys:
            raise ValueError("a histogram needs at least one bucket")
        self.sum_key = self.keys[-1] + 1
        # ebpf_exporter's way: an index that is neither a bucket nor the sum is ignored
        # (pybpf's own: below the first bucket counts in it, others in +Inf)
        self.ignore_others = False
        self.le = [go_float(b) for b in self.bounds] + ["+Inf"]
        self._pos = {k: i for i, k in enumerate(self.keys)}   # the common case: a key

    def fold(self, counts: dict[int, int]) -> tuple[list[int], int, float]:
        """(cumulative count per ``le`` bound including +Inf, count, sum) from a map's
        ``{bucket index: count}`` (the sum at ``sum_key``, if the program keeps one)."""
        per = [0] * (len(self.keys) + 1)
        pos, keys, sum_key = self._pos, self.keys, self.sum_key
        raw_sum = 0
        for idx, n in counts.items():
            i = pos.get(idx)
            if i is None:
                if idx == sum_key:
                    raw_sum += n
                    continue
                if self.ignore_others:
                    continue
                i = bisect.bisect_left(keys, idx)    # between keys, or past the last: +Inf
            per[i] += n
        cum = list(accumulate(per))
        return cum, cum[-1], raw_sum * self.multiplier
