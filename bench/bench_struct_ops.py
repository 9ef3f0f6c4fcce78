"""Registering a BPF TCP congestion control: libbpf (``bpftool struct_ops register``, then
``unregister``) against pybpf (a fresh Python process: load, ``attach()``, close), runs
interleaved, wall and on-CPU time of each process (children's rusage).  Run as root from
the repository root, under the bench lock:

    flock /tmp/pybpf-bench.lock .venv/bin/python bench/bench_struct_ops.py [runs]

The object is tests/test_object_structops.py's PARITY (a plain ``.struct_ops`` map:
Debian 12's libbpf 1.1 knows no ``.struct_ops.link``).  pybpf runs twice per round: warm
(its load plan replayed, no ELF or BTF parsing) and with PYBPF_NO_PLAN=1 (the full path:
parsing, vmlinux BTF, layout).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())

import pybpf  # noqa: E402
from tests.test_object_structops import PARITY  # noqa: E402

PYBPF = r"""
import sys, pybpf
with pybpf.load(sys.argv[1]) as obj:
    obj.attach()
    assert "pt_par" in open("/proc/sys/net/ipv4/tcp_available_congestion_control").read()
"""


def _run(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    with tempfile.TemporaryDirectory(prefix="pybpf-bench-") as tmp:
        path = os.path.join(tmp, "pt_par.bpf.o")
        with open(path, "wb") as f:
            f.write(pybpf.compile(PARITY))
        lib, warm, full = [], [], []
        cold_env = dict(os.environ, PYBPF_NO_PLAN="1")
        for i in range(runs + 1):
            a = _run(["bpftool", "struct_ops", "register", path])
            b = _run(["bpftool", "struct_ops", "unregister", "name", "pt_par"])
            c = _run([sys.executable, "-c", PYBPF, path])
            d = _run([sys.executable, "-c", PYBPF, path], cold_env)
            if i:                        # the first round warms caches (and records the plan)
                lib.append((a[0] + b[0], a[1] + b[1]))
                warm.append(c)
                full.append(d)
    lw, lc = (statistics.median(x[k] for x in lib) for k in (0, 1))
    print(f"| register + unregister, median of {runs} | wall ms | CPU ms | / libbpf wall "
          "| / libbpf CPU |")
    print("|---|---:|---:|---:|---:|")
    print(f"| libbpf 1.1 (bpftool, 2 processes) | {lw * 1e3:.1f} | {lc * 1e3:.1f} | | |")
    for label, rows in (("pybpf, plan replayed", warm), ("pybpf, PYBPF_NO_PLAN=1", full)):
        w, c = (statistics.median(x[k] for x in rows) for k in (0, 1))
        print(f"| {label} (python -c, 1 process) | {w * 1e3:.1f} | {c * 1e3:.1f} | "
              f"{w / lw:.2f} | {c / lc:.2f} |")
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
