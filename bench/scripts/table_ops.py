#!/usr/bin/env python3
"""Map operations through a bcc-style table API, under bcc or pybpf (same code).

usage: table_ops.py bcc|pybpf N_SINGLE N_FULL   -> prints JSON with rates and times
"""
import ctypes as ct
import json
import sys
import time

if sys.argv[1] == "bcc":
    from bcc import BPF
else:
    from pybpf import BPF

n_single, n_full = int(sys.argv[2]), int(sys.argv[3])
b = BPF(text=f"BPF_HASH(small, u32, u64, {n_single});\nBPF_HASH(big, u32, u64, {n_full});")
t = b["small"]
t0 = time.perf_counter()
for i in range(n_single):
    t[t.Key(i)] = t.Leaf(i)
t1 = time.perf_counter()
for i in range(n_single):
    t[t.Key(i)]
t2 = time.perf_counter()
big = b["big"]
# fill with the batch update both APIs have, then time one full read
keys = (big.Key * n_full)(*range(n_full))
vals = (big.Leaf * n_full)(*range(n_full))
big.items_update_batch(keys, vals)
t3 = time.perf_counter()
n = sum(1 for _ in big.items())
t4 = time.perf_counter()
assert n == n_full, n
print(json.dumps({"update_per_s": n_single / (t1 - t0), "lookup_per_s": n_single / (t2 - t1),
                  "full_read_s": t4 - t3}))
b.cleanup()
