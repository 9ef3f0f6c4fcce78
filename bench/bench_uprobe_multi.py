#!/usr/bin/env python3
"""Many uprobes at once: one perf event per probe against one uprobe_multi link, in one
run, interleaved.

usage: flock /tmp/pybpf-bench.lock .venv/bin/python bench/bench_uprobe_multi.py
           [--runs 3] [--pattern 'c:str*'] [--no-bcc]

1. library: attach then detach (close) a do-nothing program at every function the
   pattern names (pybpf.tools' resolution, as funccount; the ones the kernel refuses are
   tried and skipped both ways), one uprobe.attach() each against one
   uprobe_multi.attach_offsets(); and the attach of one link at the accepted ones only;
2. tools: ``pybpf funccount PATTERN`` and ``pybpf funclatency PATTERN`` with
   uprobe_multi, with PYBPF_NO_UPROBE_MULTI=1 (one perf event per probe: the path
   before), and bcc's funccount-bpfcc/funclatency-bpfcc (python3-bpfcc; kernel headers
   linked for it as bench_bcc_tools does): start to banner, and SIGINT to exit (the
   final report, then the detach).
Medians in seconds.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "src"))
PY = os.path.join(REPO, ".venv", "bin", "python")


def _prog(multi: bool):
    from pybpf._sys.uapi import AttachType, ProgType
    from pybpf.programs import Program, ProgramSpec
    ret0 = bytes.fromhex("b700000000000000" "9500000000000000")     # r0 = 0; exit
    return Program.load(ProgramSpec("bench_um", ProgType.KPROBE, ret0, expected_attach_type=(
        AttachType.TRACE_UPROBE_MULTI if multi else 0)))


def library(pattern: str, runs: int) -> dict:
    from pybpf import errors
    from pybpf.links import uprobe, uprobe_multi
    from pybpf.tools import _probes
    family, probes = _probes.resolve(pattern, False)
    path = probes[0][1][0]
    offs = [how[1] for _, how in probes]
    times: dict[str, list] = {"per-probe attach": [], "per-probe detach": [],
                              "uprobe_multi attach": [], "uprobe_multi detach": [],
                              "one link, accepted only": []}
    with _prog(False) as single, _prog(True) as multi:
        with uprobe_multi.attach_offsets(multi, path, offs) as first:
            took = [o for i, o in enumerate(offs) if i not in first.refused]
        for _ in range(runs):
            t0 = time.perf_counter()
            links = []
            for o in offs:          # as funccount: the refused ones tried and skipped
                try:
                    links.append(uprobe.attach(single, path, offset=o))
                except errors.KernelError:
                    pass
            t1 = time.perf_counter()
            for link in links:
                link.close()
            t2 = time.perf_counter()
            times["per-probe attach"].append(t1 - t0)
            times["per-probe detach"].append(t2 - t1)
            t0 = time.perf_counter()
            done = uprobe_multi.attach_offsets(multi, path, offs)   # refused ones included
            t1 = time.perf_counter()
            done.close()
            t2 = time.perf_counter()
            times["uprobe_multi attach"].append(t1 - t0)
            times["uprobe_multi detach"].append(t2 - t1)
            t0 = time.perf_counter()
            with uprobe_multi.attach(multi, path, offsets=took):
                times["one link, accepted only"].append(time.perf_counter() - t0)
    return {"functions": len(took), "refused": len(offs) - len(took),
            **{k: statistics.median(v) for k, v in times.items()}}


def _tool(argv: list[str], env: dict, banner: bytes, timeout: float = 120) -> tuple:
    """(start to banner, SIGINT to exit) of a tool; None where it never got there."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    buf = b""
    ready = None
    try:
        while time.perf_counter() - t0 < timeout:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if r:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                if banner in buf:
                    ready = time.perf_counter() - t0
                    break
        if ready is None:
            return None, None, buf.decode(errors="replace")[-300:]
        time.sleep(1.0)
        t1 = time.perf_counter()
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=timeout)
        return ready, time.perf_counter() - t1, ""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def tools(pattern: str, runs: int, bcc: bool) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(REPO, "src")
    sides = {}
    for tool in ("funccount", "funclatency"):
        for label, knob in (("uprobe_multi", "0"), ("per probe", "1")):
            sides[f"pybpf {tool}, {label}"] = ([PY, "-m", "pybpf", tool, pattern],
                                               {**env, "PYBPF_NO_UPROBE_MULTI": knob})
        ref = f"/usr/sbin/{tool}-bpfcc"
        if bcc and os.path.exists(ref):
            sides[f"bcc {tool}-bpfcc"] = ([ref, pattern], dict(os.environ))
    got: dict[str, dict] = {k: {"ready": [], "exit": [], "err": ""} for k in sides}
    ctx = _headers() if bcc else None
    if ctx is not None:
        ctx.__enter__()
    try:
        for _ in range(runs):
            for name, (argv, e) in sides.items():
                ready, exit_, err = _tool(argv, e, b"Tracing ")
                if ready is None:
                    got[name]["err"] = err
                    continue
                got[name]["ready"].append(ready)
                got[name]["exit"].append(exit_)
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
    return {k: {"ready": statistics.median(v["ready"]) if v["ready"] else None,
                "exit": statistics.median(v["exit"]) if v["exit"] else None,
                "err": v["err"]} for k, v in got.items()}


def _headers():
    sys.path.insert(0, HERE)
    try:
        from bench_bcc_tools import Headers
    except ImportError:
        return None
    return Headers()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pattern", default="c:str*")
    ap.add_argument("--no-bcc", action="store_true")
    args = ap.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    lib = library(args.pattern, args.runs)
    print(f"library, {lib['functions']} functions of {args.pattern!r} "
          f"({lib['refused']} refused by the kernel), median of {args.runs}:")
    for k in ("per-probe attach", "uprobe_multi attach", "one link, accepted only",
              "per-probe detach", "uprobe_multi detach"):
        print(f"  {k:22s} {lib[k]:7.3f} s")
    print(f"  attach {lib['per-probe attach'] / lib['uprobe_multi attach']:.1f}x faster, "
          f"detach {lib['per-probe detach'] / lib['uprobe_multi detach']:.1f}x faster")
    res = tools(args.pattern, args.runs, not args.no_bcc)
    print(f"\ntools on {args.pattern!r}, median of {args.runs} (start to banner; SIGINT "
          "to exit):")
    for name, r in res.items():
        if r["ready"] is None:
            print(f"  {name:34s} never ready: {r['err']!r}")
        else:
            print(f"  {name:34s} ready {r['ready']:6.2f} s   exit {r['exit']:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
