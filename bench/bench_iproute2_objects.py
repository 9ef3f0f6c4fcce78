"""iproute2's BTF tc examples loaded and attached by Debian's ``tc`` (libbpf) and by pybpf,
each a fresh process, interleaved: wall and on-CPU time of ``tc filter add ... bpf da obj
O sec S`` against a pybpf process that loads the same object (plans warm) and attaches
the same section as a cls_bpf filter.  Maps pin in a bpffs of this run, removed between
runs, so every run creates them.  Run as root from the repository root:

    flock /tmp/pybpf-bench.lock .venv/bin/python bench/bench_iproute2_objects.py --runs 15

Prints one Markdown table row per example (medians) and the bare interpreter's start.
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

sys.path.insert(0, os.getcwd())

import pybpf  # noqa: E402
from tests.netns import entered  # noqa: E402

EXAMPLES = os.path.join("tests", "data", "iproute2", "examples", "bpf")
CASES = [("bpf_shared.c", "egress", "emain"), ("bpf_map_in_map.c", "egress", "emain"),
         ("bpf_graft.c", "classifier", "cls_entry")]
PYBPF = """import sys, pybpf
path, prog, root = sys.argv[1:4]
obj = pybpf.load(path, programs=[prog], sections={prog: "tc"}, pin_root=root)
obj.programs[prog].attach_tc("va", "egress", mode="netlink")
"""


def _timed(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall, user + system CPU) of one process, in ms."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode()
    p.stderr.close()
    if p.returncode:
        raise SystemExit(f"{argv[0]} failed: {err.strip().splitlines()[-1:]}")
    return wall, (ru.ru_utime + ru.ru_stime) * 1000


def _clean(mnt: str) -> None:
    subprocess.run(["tc", "filter", "del", "dev", "va", "egress"], capture_output=True)
    for name in os.listdir(mnt):
        p = os.path.join(mnt, name)
        if os.path.islink(p):
            os.unlink(p)
        elif os.path.isdir(p):
            shutil.rmtree(p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    with entered("pybpf-ip2bench"), tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ip", "link", "add", "va", "type", "veth", "peer", "name", "vb"],
                       check=True)
        subprocess.run(["tc", "qdisc", "add", "dev", "va", "clsact"], check=True)
        mnt = os.path.join(tmp, "bpffs")
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "bpf", "bpf", mnt], check=True)
        env = {**os.environ, "TC_BPF_MNT": mnt}
        env.pop("PYTHONDONTWRITEBYTECODE", None)      # .pyc files as users have them
        try:
            bare = statistics.median(_timed([py, "-c", "pass"], env)[0]
                                     for _ in range(args.runs))
            print(f"Interpreter start {bare:.1f} ms, {args.runs} runs each, interleaved.\n")
            print("| example (section) | tc wall | pybpf wall | ratio | tc CPU | pybpf CPU "
                  "| ratio |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for src, sec, prog in CASES:
                obj = os.path.join(tmp, src.replace(".c", ".o"))
                with open(obj, "wb") as f:
                    f.write(pybpf.compile(os.path.join(EXAMPLES, src),
                                          cflags=["-ffreestanding"]))
                tc = ["tc", "filter", "add", "dev", "va", "egress", "bpf", "da", "obj", obj,
                      "sec", sec]
                mine = [py, "-c", PYBPF, obj, prog, os.path.join(mnt, "tc", "globals")]
                os.makedirs(os.path.join(mnt, "tc", "globals"), exist_ok=True)
                _timed(mine, env)                       # records the load plan
                _clean(mnt)
                a, b = [], []
                for _ in range(args.runs):
                    a.append(_timed(tc, env))
                    _clean(mnt)
                    os.makedirs(os.path.join(mnt, "tc", "globals"))
                    b.append(_timed(mine, env))
                    _clean(mnt)
                tw, tcpu = (statistics.median(x[i] for x in a) for i in (0, 1))
                pw, pcpu = (statistics.median(x[i] for x in b) for i in (0, 1))
                print(f"| {src} ({sec}) | {tw:.1f} ms | {pw:.1f} ms | {pw / tw:.2f} "
                      f"| {tcpu:.1f} ms | {pcpu:.1f} ms | {pcpu / tcpu:.2f} |")
        finally:
            _clean(mnt)
            subprocess.run(["umount", mnt], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
