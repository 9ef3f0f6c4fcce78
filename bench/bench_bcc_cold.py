#!/usr/bin/env python3
"""First-compile and warm start of a bcc script under pybpf and bcc 0.26, interleaved in
one run: time to first event (../shared/bench/ready.py) of bench/scripts/bcc_ppid_salted.py,
which reads the parent's tgid through kernel pointers (so pybpf's libclang pass runs).

Rows: bcc (it compiles on every start); pybpf with an empty cache (vmlinux.h, then clang);
pybpf's first run of a new text on a kernel it has seen (vmlinux.h and its precompiled
header cached, the text not: a new salt each round); pybpf warm (the same text again).

--script execmin runs bench/scripts/bcc_execmin.py (with a salt) instead (bench_bcc.py's text:
no kernel pointers, so no libclang pass, and a small text for bcc too).

usage: bench/bench_bcc_cold.py [--rounds N] [--script ppid|execmin]
bcc needs python3-bpfcc and kernel headers as /lib/modules/$(uname -r)/build.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
READY = os.path.join(os.path.dirname(REPO), "shared", "bench", "ready.py")
if not os.path.exists(READY):
    READY = "/work/shared/bench/ready.py"
SCRIPT = os.path.join(HERE, "scripts", "bcc_ppid_salted.py")
VENV_PY = os.path.join(REPO, ".venv", "bin", "python")


def ready(cmd: list[str], env=None) -> float | None:
    r = subprocess.run([sys.executable, READY, "-n", "1", "--", *cmd], capture_output=True,
                       text=True, timeout=300, env=env)
    m = re.search(r"ready_s median=([\d.]+)", r.stdout)
    return float(m[1]) if m else None


def private_dir() -> str:
    d = tempfile.mkdtemp(prefix="pybpf-bench-cold-")
    os.chmod(d, 0o700)
    return d


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--script", choices=("ppid", "execmin"), default="ppid")
    a = ap.parse_args()
    global SCRIPT
    if a.script == "execmin":
        SCRIPT = os.path.join(HERE, "scripts", "bcc_execmin.py")
    subprocess.run([VENV_PY, "-m", "compileall", "-q", os.path.join(REPO, "src")],
                   capture_output=True)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))
    kept = private_dir()
    kenv = dict(env, XDG_CACHE_HOME=kept)
    ready([VENV_PY, SCRIPT, "pybpf", "prep"], kenv)       # this kernel's vmlinux.h + PCH
    rows: dict[str, list[float]] = {"bcc 0.26": [], "pybpf, empty cache": [],
                                    "pybpf, new text (kernel cached)": [], "pybpf, warm": []}
    try:
        for i in range(a.rounds):
            salt = f"r{i}x{os.getpid()}"
            rows["bcc 0.26"].append(ready(["/usr/bin/python3", SCRIPT, "bcc", salt]))
            empty = private_dir()
            try:
                rows["pybpf, empty cache"].append(
                    ready([VENV_PY, SCRIPT, "pybpf", salt], dict(env, XDG_CACHE_HOME=empty)))
            finally:
                shutil.rmtree(empty, ignore_errors=True)
            rows["pybpf, new text (kernel cached)"].append(
                ready([VENV_PY, SCRIPT, "pybpf", salt], kenv))
            rows["pybpf, warm"].append(ready([VENV_PY, SCRIPT, "pybpf", salt], kenv))
    finally:
        shutil.rmtree(kept, ignore_errors=True)
    med = {}
    print(f"{'':34} {'median s':>9} {'runs'}")
    for name, ts in rows.items():
        ok = [t for t in ts if t is not None]
        med[name] = statistics.median(ok) if ok else None
        runs = " ".join(f"{t:.3f}" if t is not None else "-" for t in ts)
        m = f"{med[name]:.3f}" if med[name] is not None else "never"
        print(f"{name:34} {m:>9} {runs}")
    b = med["bcc 0.26"]
    if b:
        for name in list(rows)[1:]:
            if med[name]:
                print(f"bcc / {name}: {b / med[name]:.2f}x")


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
