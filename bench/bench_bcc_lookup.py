#!/usr/bin/env python3
"""A bcc table's lookups from Python, hit and miss, under bcc (python3-bpfcc) and pybpf's
bcc front end, in one run, interleaved; on-CPU µs per lookup (time.process_time).

usage: flock /tmp/pybpf-bench.lock bench/bench_bcc_lookup.py [--rounds 5] [--n 200000]
                                                           [--before SRC]

Each round starts one process per side (``/usr/bin/python3`` with bcc, the venv's python
with pybpf) that loads ``BPF_HASH(h, u32, u64)`` holding key 1, then times ``h[k]`` for a
present key and for an absent one (KeyError caught), keys as ctypes objects (``h.Key(n)``:
bcc takes no other).  The table gives each side's median and pybpf/bcc; ``--before SRC``
adds a third side, pybpf from another source tree (e.g. ``git archive`` of main's
``src``), run by the same python.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SIDES = {"bcc": "/usr/bin/python3", "pybpf": os.path.join(REPO, ".venv", "bin", "python")}
CASES = ("hit (key present)", "miss (KeyError)")

CHILD = r"""
import json, sys, time
if sys.argv[1] == "bcc":
    from bcc import BPF
else:
    from pybpf.bcc import BPF
n = int(sys.argv[2])
b = BPF(text="BPF_HASH(h, u32, u64, 64);")
h = b["h"]
h[h.Key(1)] = h.Leaf(7)

def timed(key):
    t = time.process_time()
    for _ in range(n):
        try:
            h[key]
        except KeyError:
            pass
    return (time.process_time() - t) / n * 1e6

out = [timed(h.Key(1)), timed(h.Key(2))]
assert h[h.Key(1)].value == 7
try:
    h[h.Key(2)]
    raise SystemExit("absent key found")
except KeyError:
    pass
b.cleanup()
print(json.dumps(out))
"""


def run(side: str, n: int, before: str | None = None) -> list[float]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if side == "before":
        env["PYTHONPATH"] = before
    r = subprocess.run([SIDES.get(side, SIDES["pybpf"]), "-c", CHILD, side, str(n)],
                       capture_output=True, text=True, env=env, timeout=600)
    if r.returncode:
        raise SystemExit(f"{side}: {r.stderr.strip().splitlines()[-1:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--before", metavar="SRC", help="another pybpf source tree to time")
    a = ap.parse_args()
    sides = [*SIDES, *(["before"] if a.before else [])]
    got: dict[str, list[list[float]]] = {s: [] for s in sides}
    for _ in range(a.rounds):
        for side in sides:                  # interleaved: all see the same noise
            got[side].append(run(side, a.n, a.before))
    print(f"{a.rounds} rounds of {a.n} lookups each, on-CPU µs per lookup (median)\n")
    extra = " | pybpf before | before/bcc" if a.before else ""
    print(f"| lookup | bcc 0.26 | pybpf | pybpf/bcc{extra} |")
    print("|---|---|---|---" + ("|---|---" if a.before else "") + "|")
    for i, case in enumerate(CASES):
        b = statistics.median(r[i] for r in got["bcc"])
        p = statistics.median(r[i] for r in got["pybpf"])
        row = f"| {case} | {b:.2f} | {p:.2f} | {p / b:.2f}"
        if a.before:
            o = statistics.median(r[i] for r in got["before"])
            row += f" | {o:.2f} | {o / b:.2f}"
        print(row + " |")
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
