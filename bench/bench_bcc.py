#!/usr/bin/env python3
"""A bcc-style script under pybpf and under bcc, same run: time to first event (first run
with an empty cache, and warm) and peak RSS, with ../shared/bench/ready.py.

usage: bench/bench_bcc.py [--runs N]
bcc needs python3-bpfcc and kernel headers (see bench/RESULTS.md for the link trick).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
READY = os.path.join(os.path.dirname(REPO), "shared", "bench", "ready.py")
if not os.path.exists(READY):
    READY = "/work/shared/bench/ready.py"
SCRIPT = os.path.join(HERE, "scripts", "bcc_execmin.py")
VENV_PY = os.path.join(REPO, ".venv", "bin", "python")


def ready(cmd: list[str], runs: int, env=None) -> tuple[float | None, float | None]:
    r = subprocess.run([sys.executable, READY, "-n", str(runs), "--", *cmd],
                       capture_output=True, text=True, timeout=900, env=env)
    m = re.search(r"ready_s median=([\d.]+).*peak_rss_mb median=([\d.]+)", r.stdout)
    return (float(m[1]), float(m[2])) if m else (None, None)


def cold_env() -> tuple[dict, str]:
    d = tempfile.mkdtemp(prefix="pybpf-bench-cache-")
    os.chmod(d, 0o700)
    return dict(os.environ, XDG_CACHE_HOME=d), d


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    # warm means warm: byte-compiled modules too (with PYTHONDONTWRITEBYTECODE set, an
    # edited module would otherwise be compiled again by every start)
    subprocess.run([os.path.join(REPO, ".venv", "bin", "python"), "-m", "compileall", "-q",
                    os.path.join(REPO, "src")], capture_output=True)
    # this checkout's pybpf, not the one the venv has installed
    os.environ["PYTHONPATH"] = os.path.join(REPO, "src")
    rows = []
    cold = []
    for _ in range(a.runs):          # every run gets an empty cache: vmlinux.h + clang
        env, d = cold_env()
        cold.append(ready([VENV_PY, SCRIPT, "pybpf"], 1, env))
        shutil.rmtree(d, ignore_errors=True)
    ok = [c for c in cold if c[0] is not None]
    if ok:
        rows.append(("pybpf first run (empty cache)", sorted(c[0] for c in ok)[len(ok) // 2],
                     sorted(c[1] for c in ok)[len(ok) // 2]))
    ready([VENV_PY, SCRIPT, "pybpf"], 1)           # fill the cache
    rows.append(("pybpf warm", *ready([VENV_PY, SCRIPT, "pybpf"], a.runs)))
    try:
        has_bcc = subprocess.run(["/usr/bin/python3", "-c", "import bcc"],
                                 capture_output=True).returncode == 0
    except OSError:
        has_bcc = False
    if has_bcc:
        rows.append(("bcc (python3-bpfcc)", *ready(["/usr/bin/python3", SCRIPT, "bcc"], a.runs)))
    print(f"{'':34} {'ready s':>9} {'peak RSS MB':>12}")
    for name, t, rss in rows:
        ts = f"{t:.3f}" if t is not None else "never"
        rs = f"{rss:.1f}" if rss is not None else "-"
        print(f"{name:34} {ts:>9} {rs:>12}")
    base = dict((n, t) for n, t, _ in rows)
    if "bcc (python3-bpfcc)" in base and base.get("pybpf warm") and \
            base["bcc (python3-bpfcc)"]:
        print(f"bcc / pybpf warm start: {base['bcc (python3-bpfcc)'] / base['pybpf warm']:.1f}x")


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
