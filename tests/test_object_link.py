"""object/link.py's BTF info rebasing, on hand-made records (no kernel, no root)."""

from __future__ import annotations

import random

from pybpf.btf.ext import BTFExt, LineInfo
from pybpf.object import link


def _line(off: int) -> LineInfo:
    return LineInfo(off, "f.c", "x;", off // 8, 1, 0, 0)


def _naive(recs, lo, hi):
    return [r for r in recs if lo <= r.insn_off < hi]


def test_span_bisects_sorted_records_and_scans_unsorted_ones():
    """A linked object's .text (Falco's probe: every file's helpers) has tens of thousands
    of line records: each function's are found by bisection, in their order, the same
    records a scan finds; records out of order (hand-made) are scanned as before."""
    rng = random.Random(7)
    offs = sorted(rng.sample(range(0, 80000, 8), 2000))
    offs[10:10] = [offs[10]] * 3                     # several records on one instruction
    ext = BTFExt(line_info={".text": [_line(o) for o in offs]})
    recs = ext.line_info[".text"]
    for _ in range(200):
        lo = rng.randrange(0, 80000, 8)
        hi = lo + rng.randrange(8, 4000, 8)
        assert list(link._span(ext, recs, lo, hi)) == _naive(recs, lo, hi)
    assert list(link._span(ext, recs, offs[10], offs[10] + 8)) == recs[10:14]
    shuffled = recs[:]
    rng.shuffle(shuffled)
    ext.line_info[".text"] = shuffled                # a new list: its own order is checked
    assert list(link._span(ext, shuffled, 800, 4000)) == _naive(shuffled, 800, 4000)
    assert list(link._span(ext, [], 0, 8)) == []
