#!/usr/bin/env python3
"""What a tool's start-up pays for imports: the stdlib modules pybpf keeps off its start
path, and pybpf's own start path, each in a fresh interpreter (median of N).

usage: bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(REPO, ".venv", "bin", "python")

# what each costs on top of what argparse and re (needed by every tool) already import
CASES = {
    "dataclasses": "import dataclasses",
    "typing": "import typing",
    "pathlib": "import pathlib",
    "hashlib (OpenSSL bindings)": "import hashlib",
    "_sha256 (built-in sha256)": "import _sha256",
    "shutil": "import shutil",
    "json": "import json",
    "platform": "import platform",
    "pybpf package + its UAPI enums": "import pybpf._sys.uapi",
    "pybpf execsnoop start path": "import pybpf.cli, pybpf.tools.execsnoop, "
                                  "pybpf.object.loader, pybpf.object.plan, pybpf.ringbuf, "
                                  "pybpf.links.tracepoint, pybpf.object.attach",
}


def cost(stmt: str) -> float:
    code = ("import argparse, re, time\nt = time.perf_counter()\n" + stmt +
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


if __name__ == "__main__":
    main()
