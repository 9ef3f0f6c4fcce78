#!/usr/bin/env python3
"""Corpus load time: pybpf against ``bpftool prog loadall`` (libbpf), in the same run.

Each object of tests/corpus that both can load is loaded by a fresh process, as a tool
would: ``bpftool prog loadall OBJ DIR`` against ``python -c 'pybpf.load(OBJ)'`` with a
warm cache (load plan) and with plans disabled (``PYBPF_NO_PLAN=1``: full parse, CO-RE,
link every time), and ``python -c pass`` (the interpreter's own start) alongside.  Runs
are interleaved (every loader once per object, then again), so a noisy neighbour hits all
of them alike; per object the median is kept, and the medians are summed.

``--before SRC`` also measures another pybpf source tree (say ``git worktree add --detach
/tmp/main main`` then ``--before /tmp/main/src``) in the same run, for before/after ratios.
Also the in-process time of ``pybpf.load()`` for the CO-RE task_struct object (issue 3's
15 ms goal).

usage: bench/bench_load.py [--runs N] [--before SRC]      (root; bpftool, clang)
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
SRC = os.path.join(REPO, "src")

from tests.corpus import build  # noqa: E402

SKIP = {"fentry", "lsm", "net", "legacy", "newer_sections"}  # refused here, or by libbpf 1.1
PIN_ROOT = "/sys/fs/bpf"


def timed(argv, env=None) -> tuple[float, float]:
    """(wall, CPU = user + system) seconds of one run of ``argv``.  On a busy machine
    the wall time also counts waiting for a CPU; the CPU time is the work itself."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    if p.returncode:
        raise RuntimeError(f"{argv[0]} failed: {err.decode()[-400:]}")
    return dt, ru.ru_utime + ru.ru_stime


def bpftool_load(obj: str) -> tuple[float, float]:
    d = os.path.join(PIN_ROOT, f"pt-bench-{os.getpid()}")
    try:
        return timed(["bpftool", "prog", "loadall", obj, d])
    finally:
        shutil.rmtree(d, ignore_errors=True)
        for stale in ("counts",):        # maps the corpus pins by name under the root
            p = os.path.join(PIN_ROOT, stale)
            if os.path.isfile(p):
                os.unlink(p)


def pybpf_load(obj: str, plan: bool, src: str = SRC) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=src)
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


def interpreter() -> tuple[float, float]:
    return timed([PY, "-c", "pass"])


def in_process(obj: str, runs: int) -> tuple[float, float]:
    """(fresh process: import + load, load alone) in ms for a warm start, medians."""
    code = ("import time\nt0 = time.perf_counter()\nimport pybpf\nt1 = time.perf_counter()\n"
            f"o = pybpf.load({obj!r})\nt2 = time.perf_counter()\n"
            "assert o._plan is not None\no.close()\n"
            "print((t2 - t0) * 1e3, (t2 - t1) * 1e3)\n")
    both, alone = [], []
    env = dict(os.environ, PYTHONPATH=SRC)
    env.pop("PYBPF_NO_PLAN", None)
    for _ in range(runs):
        out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True,
                             env=env)
        a, b = map(float, out.stdout.split())
        both.append(a)
        alone.append(b)
    return statistics.median(both), statistics.median(alone)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", metavar="SRC", help="another pybpf src/ to measure alongside")
    args = ap.parse_args()
    trees = {"after": SRC}
    if args.before:
        trees = {"before": os.path.abspath(args.before), "after": SRC}
    # warm means warm: byte-compiled modules too (with PYTHONDONTWRITEBYTECODE set, an
    # edited module would otherwise be compiled again by every start)
    for src in trees.values():
        subprocess.run([PY, "-m", "compileall", "-q", src], capture_output=True)
    tmp = tempfile.mkdtemp(prefix="pt-bench-load-")
    try:
        run(args, trees, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, trees: dict, tmp: str) -> None:
    objs = {k: str(v) for k, v in build.build(__import__("pathlib").Path(tmp)).items()
            if k not in SKIP}
    cols = ["bpftool"] + [f"{t} {m}" for t in trees for m in ("warm", "cold")]
    samples = {name: {c: [] for c in cols} for name in objs}
    starts = []
    for obj in objs.values():
        for src in trees.values():
            pybpf_load(obj, True, src)          # record the plans
    for _ in range(args.runs):
        for name, obj in sorted(objs.items()):
            starts.append(interpreter())
            samples[name]["bpftool"].append(bpftool_load(obj))
            for t, src in trees.items():
                samples[name][f"{t} warm"].append(pybpf_load(obj, True, src))
                samples[name][f"{t} cold"].append(pybpf_load(obj, False, src))
    n = len(objs)
    print(f"# corpus load, {n} objects, median of {args.runs} interleaved runs, "
          "one process each (ms)\n")
    summary = {}
    for i, what in ((0, "wall"), (1, "CPU (user + system)")):
        med = {name: {c: statistics.median(x[i] for x in v) for c, v in row.items()}
               for name, row in samples.items()}
        tot = {c: sum(row[c] for row in med.values()) for c in cols}
        start = statistics.median(x[i] for x in starts)
        summary[what] = (tot, start)
        print(f"\n## {what} time\n")
        print("| object | " + " | ".join(cols) + " |")
        print("|---|" + "---:|" * len(cols))
        for name in sorted(med):
            print(f"| {name} | " + " | ".join(f"{med[name][c] * 1e3:.1f}" for c in cols)
                  + " |")
        print("| **total** | " + " | ".join(f"{tot[c] * 1e3:.0f}" for c in cols) + " |")
    for what, (tot, start) in summary.items():
        b = tot["bpftool"]
        allowance = 1.5 * b + n * start
        print(f"\n{what}: interpreter start (python -c pass, median of {len(starts)}) "
              f"{start * 1e3:.1f} ms; bpftool total {b * 1e3:.0f} ms; goals: cold <= 3x "
              f"bpftool = {3 * b * 1e3:.0f} ms, warm <= 1.5x bpftool + {n} interpreter "
              f"starts = {allowance * 1e3:.0f} ms")
        for t in trees:
            w, c = tot[f"{t} warm"], tot[f"{t} cold"]
            print(f"  {t}: warm {w * 1e3:.0f} ms = {w / b:.2f}x bpftool, "
                  f"{w / allowance:.2f} of the allowance "
                  f"({'met' if w <= allowance else 'not met'}); "
                  f"cold {c * 1e3:.0f} ms = {c / b:.2f}x ({'met' if c <= 3 * b else 'not met'})")
    both, alone = in_process(objs["core_read"], max(args.runs, 7))
    print(f"\nCO-RE task_struct object (core_read.bpf.o), warm, fresh process: "
          f"import + load {both:.1f} ms, pybpf.load() alone {alone:.1f} ms")


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
