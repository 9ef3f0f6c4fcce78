#!/usr/bin/env python3
"""A tool's start, this checkout against another (say /work/main), interleaved: CPU time
(/proc/PID/schedstat) and wall time until the tool's first output line (its header, printed
once it is attached and about to read events), through the installed-style command
(``python bin/pybpf TOOL``).  Runs alternate between the two checkouts so both see the same
load; the minimum and the mean of the lower half are the least disturbed by other jobs.

With ``--built`` both sides run as a built package, as pip installs it (``setup.py
build_py`` of each checkout into a temp dir: the tools' objects compiled, the code stamp
written) instead of from their source trees.

``--other nobundle`` compares this checkout with itself run without its start-up bundle
(``PYBPF_NO_BUNDLE=1``, pybpf/startbundle.py).

usage: bench/bench_start_ab.py --other CHECKOUT|nobundle [--built] [--runs N] TOOL [TOOL ...]
(a TOOL may carry its options: "opensnoop -T -p 1")
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(REPO, ".venv", "bin", "python")


def one(checkout: str, tool: str) -> tuple[float | None, float]:
    """(CPU ms, wall ms) until ``tool`` of ``checkout`` prints its first output
    (``checkout`` + "|nobundle": without its start-up bundle)."""
    checkout, _, flag = checkout.partition("|")
    env = {**os.environ, "PYTHONPATH": os.path.join(checkout, "src")}
    if flag == "nobundle":
        env["PYBPF_NO_BUNDLE"] = "1"
    p = subprocess.Popen([PYTHON, os.path.join(checkout, "bin", "pybpf"), *tool.split()],
                         env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    t0 = time.monotonic()
    ready, _, _ = select.select([p.stdout], [], [], 30)
    wall = (time.monotonic() - t0) * 1000
    cpu = None
    if ready:
        with open(f"/proc/{p.pid}/schedstat") as f:
            cpu = int(f.read().split()[0]) / 1e6
    p.send_signal(signal.SIGINT)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return cpu, wall


def built(checkout: str, into: str) -> str:
    """``checkout`` built as a package (its build_py, so what a wheel holds) under
    ``into``/src, with its bin/pybpf: a root ``one()`` can run."""
    import shutil
    subprocess.run([PYTHON, "setup.py", "-q", "build_py", "-d", os.path.join(into, "src")],
                   cwd=checkout, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    os.makedirs(os.path.join(into, "bin"), exist_ok=True)
    shutil.copy(os.path.join(checkout, "bin", "pybpf"), os.path.join(into, "bin"))
    return into


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", required=True, help="the other pybpf checkout (its src/, bin/)")
    ap.add_argument("--built", action="store_true",
                    help="run both sides as built packages (setup.py build_py), not sources")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("tools", nargs="+")
    a = ap.parse_args()
    # byte-code cached as an installed wheel has it, in a directory of our own
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    pyc = tempfile.mkdtemp(prefix="pybpf-bench-ab-")
    os.environ["PYTHONPYCACHEPREFIX"] = pyc
    nobundle = a.other == "nobundle"
    sides = {"this": REPO} if nobundle else {"other": os.path.abspath(a.other), "this": REPO}
    if a.built:
        sides = {k: built(v, tempfile.mkdtemp(prefix=f"pybpf-bench-ab-{k}-"))
                 for k, v in sides.items()}
    if nobundle:
        sides = {"other": sides["this"] + "|nobundle", "this": sides["this"]}
    print("| tool | checkout | CPU min | CPU lower-half mean | CPU median | wall min "
          "| wall median |")
    print("|---|---|---:|---:|---:|---:|---:|")
    try:
        for tool in a.tools:
            res = {k: [] for k in sides}
            for root in sides.values():
                one(root, tool)                  # warm: byte-code, plan, caches
            for i in range(a.runs):
                order = list(sides.items())
                for k, root in (order if i % 2 else order[::-1]):
                    res[k].append(one(root, tool))
            for k, rs in res.items():
                cpu = sorted(c for c, _ in rs if c is not None)
                wall = sorted(w for _, w in rs)
                if not cpu:
                    print(f"| {tool} | {k} | - | - | - | - | - |")
                    continue
                low = cpu[:max(1, len(cpu) // 2)]
                print(f"| {tool} | {k} | {cpu[0]:.1f} | {statistics.mean(low):.1f} | "
                      f"{statistics.median(cpu):.1f} | {wall[0]:.1f} | "
                      f"{statistics.median(wall):.1f} |", flush=True)
    finally:
        import shutil
        shutil.rmtree(pyc, ignore_errors=True)
        if a.built:
            for root in set(r.partition("|")[0] for r in sides.values()):
                shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
