"""vmlinux.h generation vs bpftool, and cold compile vs cache hit.

Run: .venv/bin/python bench/bench_compile.py
"""

from __future__ import annotations

import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from pybpf.btf.cformat import generate_header  # noqa: E402
from pybpf.btf.kernel import VMLINUX, load_file  # noqa: E402
from pybpf.cache import Cache  # noqa: E402

cc = importlib.import_module("pybpf.toolchain")

PROGRAM = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("tp/syscalls/sys_enter_execve")
int ppid(void *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    bpf_printk("%d", BPF_CORE_READ(t, real_parent, tgid));
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def timed(fn, n: int) -> float:
    """Median seconds of n runs."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    rows = []
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    t_tool = timed(lambda: subprocess.run([bpftool, "btf", "dump", "file", VMLINUX,
                                           "format", "c"], capture_output=True, check=True), 5)
    # cold: parse the BTF without the on-disk index, decode every type, write C
    t_load = timed(lambda: load_file(VMLINUX, use_cache=False), 3)
    t_gen = timed(lambda: generate_header(load_file(VMLINUX, use_cache=False)), 3)
    spec = load_file(VMLINUX, use_cache=False)
    ntypes = len(spec) - 1
    rows += [("bpftool btf dump format c", t_tool, ""),
             ("pybpf BTF parse (no index cache)", t_load, ""),
             (f"pybpf generate_header ({ntypes} types, cold)", t_gen,
              f"{t_gen / t_tool:.1f}x bpftool")]
    with tempfile.TemporaryDirectory() as d:
        cache = Cache(os.path.join(d, "pybpf"))
        t0 = time.perf_counter()
        cc.compile(PROGRAM, cache=cache)          # first ever: + vmlinux.h + clang version
        t_first = time.perf_counter() - t0
        n = [0]

        def cold():
            n[0] += 1
            cc.compile(PROGRAM + f"// {n[0]}\n", cache=cache)
        t_cold = timed(cold, 3)
        t_hit = timed(lambda: cc.compile(PROGRAM, cache=cache), 50)
        rows += [("compile, empty cache (vmlinux.h + clang)", t_first, ""),
                 ("compile, cache miss (clang only)", t_cold, ""),
                 ("compile, cache hit", t_hit, f"{t_cold / t_hit:.0f}x faster than miss")]
    w = max(len(r[0]) for r in rows)
    print(f"{'what':<{w}}  {'time':>10}  note")
    for name, t, note in rows:
        print(f"{name:<{w}}  {t * 1000:8.1f} ms  {note}")


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
