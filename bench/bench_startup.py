#!/usr/bin/env python3
"""What a tool's start-up pays for imports: the stdlib modules pybpf keeps off its start
path, and pybpf's own start path, each in a fresh interpreter (median of N); then the
warm-path steps whose repeated work was cut (clang search, ld.so.cache), in process.

usage: bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(REPO, ".venv", "bin", "python")

# what each costs in a bare interpreter (a tool's warm start imports none of the stdlib
# modules listed here; pip's console-script wrapper imported re, hence bin/pybpf)
CASES = {
    "re (pip's console-script wrapper)": "import re",
    "argparse": "import argparse",
    "enum": "import enum",
    "signal (its enums)": "import signal",
    "dataclasses": "import dataclasses",
    "typing": "import typing",
    "pathlib": "import pathlib",
    "hashlib (OpenSSL bindings)": "import hashlib",
    "_sha256 (built-in sha256)": "import _sha256",
    "shutil": "import shutil",
    "json": "import json",
    "platform": "import platform",
    "pybpf package + its UAPI tables": "import pybpf._sys.uapi",
    "pybpf.links.usdt (USDT attach)": "import pybpf.links.usdt",
    "pybpf execsnoop start path": "import pybpf.cli, pybpf.tools.execsnoop, "
                                  "pybpf.object.loader, pybpf.object.plan, pybpf.ringbuf, "
                                  "pybpf.links.tracepoint, pybpf.object.attach",
}


def cost(stmt: str) -> float:
    code = ("import time\nt = time.perf_counter()\n" + stmt +
            "\nprint((time.perf_counter() - t) * 1e3)")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    a = ap.parse_args()
    subprocess.run([PY, "-m", "compileall", "-q", os.path.join(REPO, "src")],
                   capture_output=True)
    print("| import | ms (median) |\n|---|---:|")
    for name, stmt in CASES.items():
        print(f"| {name} | {statistics.median(cost(stmt) for _ in range(a.runs)):.2f} |")
    print("\n| warm-path step (in process) | ms (median) |\n|---|---:|")
    for name, ms in steps(a.runs):
        print(f"| {name} | {ms:.2f} |")


STEPS = """
import statistics, sys, time
from pybpf import toolchain
from pybpf.cache import Cache
from pybpf.links import symbols
src = sys.argv[1]
def med(fn, n=21):
    out = []
    for _ in range(n):
        t = time.perf_counter(); fn(); out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)
cache = Cache.default()
toolchain.compile(src)
print("clang search, listing PATH (find_clang())", med(toolchain.find_clang))
print("clang search, remembered (find_clang(cache))", med(lambda: toolchain.find_clang(cache)))
print("compile-cache hit of a .bpf.c", med(lambda: toolchain.compile(src)))
def every_name():
    for _ in symbols._ld_so_cache():
        pass
print("ld.so.cache: every soname decoded (before)", med(every_name))
print("ld.so.cache: names matched as bytes", med(lambda: list(symbols._ld_so_cache(prefixes=("libc.so",)))))
print("find_library('c'), again in one process", med(lambda: symbols.find_library("c")))
"""


def steps(runs: int) -> list[tuple[str, float]]:
    src = os.path.join(REPO, "examples", "minimal", "minimal.bpf.c")
    out = subprocess.run([PY, "-c", STEPS, src], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.path.join(REPO, "src")})
    rows = []
    for line in out.stdout.splitlines():
        name, _, ms = line.rpartition(" ")
        rows.append((name, float(ms)))
    return rows


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
