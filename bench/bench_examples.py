#!/usr/bin/env python3
"""Start-to-attached time of each example (examples/<name>/<name>.py) against the same
object loaded and attached by C on libbpf (bench/examples/c_attach.c), in the same run.

Both print a line once attached; the time is from exec to that line (median of N, after
one untimed warm-up run that fills pybpf's compile cache and load plans).  The
interpreter's own start (``python -c "print()"``) is measured alongside: the goal is
python <= 2 x C + interpreter start.

usage: flock /tmp/pybpf-bench.lock bench/bench_examples.py [--runs N] [names...]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(REPO, ".venv", "bin", "python")
# bytecode caching as users have it (a harness may export PYTHONDONTWRITEBYTECODE)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = os.path.join(REPO, "src")
ARGS = {"minimal": ["-i", "0.2"], "minimal_ns": ["-i", "0.2"], "uprobe": ["-i", "0.2"],
        "tc": ["--port", "9999"]}
EXAMPLES = ["minimal", "minimal_ns", "bootstrap", "uprobe", "usdt", "tc", "sockfilter",
            "task_iter", "profile"]


def first_line(argv, env=None, interrupt: bool = True) -> float:
    """Seconds from exec to the first line on stdout; the process is then stopped (SIGINT,
    the examples' Ctrl-C path, or for the C side end of stdin: both tear down)."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    line = p.stdout.readline()
    dt = time.perf_counter() - t
    if not line:
        raise RuntimeError(f"{argv} printed nothing")
    if interrupt and p.poll() is None:
        p.send_signal(signal.SIGINT)
    try:
        p.communicate(timeout=10)         # closes stdin: the C side's cue to tear down
    except subprocess.TimeoutExpired:
        # the interrupt was not acted on: say so (a lost Ctrl-C is a bug to look at) and
        # end the run rather than hang the bench
        print(f"  note: {os.path.basename(argv[1] if len(argv) > 1 else argv[0])} ignored "
              "SIGINT; sent SIGKILL", file=sys.stderr)
        p.kill()
        p.communicate(timeout=10)
    return dt


def median(fn, runs: int) -> float:
    fn()                                  # warm-up: caches, plans, page cache
    return statistics.median(fn() for _ in range(runs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("names", nargs="*", default=EXAMPLES)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(REPO, "src"))
    import pybpf
    with tempfile.TemporaryDirectory(prefix="pybpf-bench-ex-") as tmp:
        c_bin = os.path.join(tmp, "c_attach")
        subprocess.run(["gcc", "-O2", "-o", c_bin,
                        os.path.join(REPO, "bench", "examples", "c_attach.c"),
                        "-lbpf", "-lelf", "-lz"], check=True)
        interp = median(lambda: first_line([PY, "-c", "print()"], ENV), args.runs)
        print(f"interpreter start (python -c print()): {interp * 1e3:.1f} ms\n")
        print(f"{'example':<12} {'C libbpf':>9} {'pybpf':>9} {'ratio':>6} "
              f"{'(py-interp)/C':>14}  goal <= 2")
        for name in args.names:
            obj = os.path.join(tmp, f"{name}.bpf.o")
            with open(obj, "wb") as f:
                f.write(pybpf.compile(os.path.join(REPO, "examples", name, f"{name}.bpf.c")))
            c = median(lambda: first_line([c_bin, name, obj], interrupt=False), args.runs)
            py = median(lambda: first_line([PY, os.path.join(REPO, "examples", name,
                                                             f"{name}.py"),
                                            *ARGS.get(name, [])], ENV), args.runs)
            print(f"{name:<12} {c * 1e3:>7.1f}ms {py * 1e3:>7.1f}ms {py / c:>6.1f} "
                  f"{(py - interp) / c:>14.2f}  {'ok' if py <= 2 * c + interp else 'OVER'}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
