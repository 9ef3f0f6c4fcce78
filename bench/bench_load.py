#!/usr/bin/env python3
"""Corpus load time: pybpf against ``bpftool prog loadall`` (libbpf), in the same run.

Each object of tests/corpus that both can load is loaded by a fresh process, as a tool
would: ``bpftool prog loadall OBJ DIR`` against ``python -c 'pybpf.load(OBJ)'`` with a
warm cache (load plan) and with plans disabled (full parse, CO-RE, link every time).
Also the in-process time of ``pybpf.load()`` for the CO-RE task_struct object (issue 3's
15 ms goal).

usage: bench/bench_load.py [--runs N]      (root; bpftool, clang)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
PY = os.path.join(REPO, ".venv", "bin", "python")

from tests.corpus import build  # noqa: E402

SKIP = {"fentry", "lsm", "net", "legacy", "newer_sections"}  # refused here, or by libbpf 1.1
PIN_ROOT = "/sys/fs/bpf"


def timed(argv, env=None) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, env=env)
    dt = time.perf_counter() - t
    if r.returncode:
        raise RuntimeError(f"{argv[0]} failed: {r.stderr.decode()[-400:]}")
    return dt


def bpftool_load(obj: str) -> float:
    d = os.path.join(PIN_ROOT, f"pt-bench-{os.getpid()}")
    try:
        return timed(["bpftool", "prog", "loadall", obj, d])
    finally:
        shutil.rmtree(d, ignore_errors=True)
        for stale in ("counts",):        # maps the corpus pins by name under the root
            p = os.path.join(PIN_ROOT, stale)
            if os.path.isfile(p):
                os.unlink(p)


def pybpf_load(obj: str, plan: bool) -> float:
    env = dict(os.environ)
    env.pop("PYBPF_NO_PLAN", None)
    if not plan:
        env["PYBPF_NO_PLAN"] = "1"
    code = f"import pybpf\npybpf.load({obj!r}).close()\n"
    try:
        return timed([PY, "-c", code], env)
    finally:
        p = os.path.join(PIN_ROOT, "counts")
        if os.path.isfile(p):
            os.unlink(p)


def in_process(obj: str, runs: int) -> tuple[float, float]:
    """(fresh process: import + load, load alone) in ms for a warm start, medians."""
    code = ("import time\nt0 = time.perf_counter()\nimport pybpf\nt1 = time.perf_counter()\n"
            f"o = pybpf.load({obj!r})\nt2 = time.perf_counter()\n"
            "assert o._plan is not None\no.close()\n"
            "print((t2 - t0) * 1e3, (t2 - t1) * 1e3)\n")
    both, alone = [], []
    for _ in range(runs):
        out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True)
        a, b = map(float, out.stdout.split())
        both.append(a)
        alone.append(b)
    return statistics.median(both), statistics.median(alone)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    # warm means warm: byte-compiled modules too (with PYTHONDONTWRITEBYTECODE set, an
    # edited module would otherwise be compiled again by every start)
    subprocess.run([os.path.join(REPO, ".venv", "bin", "python"), "-m", "compileall", "-q",
                    os.path.join(REPO, "src")], capture_output=True)
    tmp = tempfile.mkdtemp(prefix="pt-bench-load-")
    objs = {k: str(v) for k, v in build.build(__import__("pathlib").Path(tmp)).items()
            if k not in SKIP}
    rows = []
    tot = {"bpftool": 0.0, "warm": 0.0, "noplan": 0.0}
    for name, obj in sorted(objs.items()):
        pybpf_load(obj, True)             # record the plan
        b = statistics.median(bpftool_load(obj) for _ in range(args.runs))
        w = statistics.median(pybpf_load(obj, True) for _ in range(args.runs))
        n = statistics.median(pybpf_load(obj, False) for _ in range(args.runs))
        rows.append((name, b, w, n))
        tot["bpftool"] += b
        tot["warm"] += w
        tot["noplan"] += n
    print(f"# corpus load, {len(rows)} objects, median of {args.runs}, one process each\n")
    print("| object | bpftool loadall ms | pybpf warm ms | pybpf no plan ms |")
    print("|---|---:|---:|---:|")
    for name, b, w, n in rows:
        print(f"| {name} | {b * 1e3:.1f} | {w * 1e3:.1f} | {n * 1e3:.1f} |")
    print(f"| **total** | {tot['bpftool'] * 1e3:.0f} | {tot['warm'] * 1e3:.0f} | "
          f"{tot['noplan'] * 1e3:.0f} |")
    print(f"\npybpf warm / bpftool: {tot['warm'] / tot['bpftool']:.2f}x; "
          f"pybpf without plans / bpftool: {tot['noplan'] / tot['bpftool']:.2f}x")
    both, alone = in_process(objs["core_read"], max(args.runs, 7))
    print(f"\nCO-RE task_struct object (core_read.bpf.o), warm, fresh process: "
          f"import + load {both:.1f} ms, pybpf.load() alone {alone:.1f} ms")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
