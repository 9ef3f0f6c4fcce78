#!/usr/bin/env python3
"""Where a tool's warm start spends its CPU, by phase: each run is a fresh process that
starts the tool as ``bin/pybpf`` does (same start-up bundle, same load plan) with marks of
``time.process_time()`` at each phase and the kernel's part of every bpf(2) and
perf_event_open(2) call, until the tool's header (it is attached and about to read
events); then the process leaves.  Median ms over ``--runs`` per phase.

usage: bench/bench_start_phases.py [--runs N] [--checkout DIR] TOOL [TOOL ...]
(a TOOL may carry its options: "killsnoop -x"; ``--checkout``: another pybpf tree, run
with this one's venv.  With PHASES_MODULES=1 in the environment each child also says on
stderr which modules every phase imported.)  Tools that load their own way (execsnoop)
pass none of the marked functions: only their total is meaningful.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The child: bin/pybpf's path with marks.  Patched functions are the ones a warm event
# tool passes through in order; a phase a tool skips shows 0.
CHILD = r"""
import time
_marks = [("interpreter + site", time.process_time())]
import sys, types
_mods = [set(sys.modules)]
def mark(name):
    _marks.append((name, time.process_time()))
    if "PHASES_MODULES" in __import__("os").environ:
        now = set(sys.modules)
        print(name, sorted(now - _mods[0]), file=sys.stderr)
        _mods[0] = now
sys.modules["pybpf.__main__"] = types.ModuleType("pybpf.__main__")   # "the command"
import _signal
from pybpf import startbundle
# the path bin/pybpf runs with (its directory first): the start-up bundle's cache key
# holds sys.path, so this finds, and at the header records, the bundle a real start uses
import os.path as _p
sys.path[0] = _p.join(_p.dirname(_p.dirname(_p.dirname(_p.abspath(startbundle.__file__)))), "bin")
_session = startbundle.install(sys.argv[1:])
mark("bundle")
import pybpf.cli, pybpf.tools._common as C, pybpf.tools._run as R, pybpf.tools._args as A
tool = __import__("pybpf.tools." + sys.argv[1], fromlist=["x"])
mark("pybpf + tool imports")
def after(obj, attr, name, first=None):
    f = getattr(obj, attr)
    def w(*a, **k):
        if first:
            mark(first)
        r = f(*a, **k)
        mark(name)
        return r
    setattr(obj, attr, w)
after(R, "load", "object loaded + attached", first="options + tool's own pre-load")
after(C, "require_privileges", "privileges")
calls = {}
def patch_loader():
    # imported here, where a start imports them anyway (ctypes with the first syscall)
    import pybpf.object.loader as L, pybpf.object.plan as P
    mark("loader imports")
    from pybpf._sys import syscall as S
    _raw = S._syscall
    def timed(nr, *a):
        t = time.process_time()
        r = _raw(nr, *a)
        d = time.process_time() - t
        name = ("perf_event_open" if nr == S.NR_PERF_EVENT_OPEN
                else f"bpf {S._cmd_name(a[0].value if hasattr(a[0], 'value') else a[0])}")
        n, s = calls.get(name, (0, 0.0))
        calls[name] = (n + 1, s + d)
        return r
    S._syscall = timed
    import pybpf.ringbuf as RB
    after(RB.RingBuffer, "__init__", "ring buffer")
    after(P, "read", "plan read")
    after(L, "_replay", "replay")
    after(L.Object, "attach", "attach")
after(C, "tool_source", "code identity")
_ts = C.tool_source
def ts(*a, **k):
    r = _ts(*a, **k)
    patch_loader()
    return r
C.tool_source = ts
after(R, "attach_some", "attach (attach_some)")
after(C.DropReporter, "__init__", "drop reporter")
def header(self, *a, **k):
    mark("to the header")
    import os, json
    os.write(int(os.environ["PHASES_FD"]), json.dumps({"marks": _marks, "calls": calls}).encode())
    startbundle.record(_session)         # only when the bundle lacked a module
    os._exit(0)
C.Output.header = header
sys.exit(pybpf.cli.main(sys.argv[1:]))
"""


def one(checkout: str, tool: str) -> dict:
    r, w = os.pipe()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env = {**env, "PYTHONPATH": os.path.join(checkout, "src"), "PHASES_FD": str(w)}
    p = subprocess.Popen([os.path.join(REPO, ".venv", "bin", "python"), "-c", CHILD,
                          *tool.split()], env=env, pass_fds=(w,), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    err = p.communicate(timeout=30)[1]
    if not data:
        raise SystemExit(f"{tool}: no marks ({err.decode(errors='replace').strip()[-300:]})")
    return json.loads(data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--checkout", default=REPO)
    ap.add_argument("tools", nargs="+")
    a = ap.parse_args()
    for tool in a.tools:
        one(a.checkout, tool)           # warm: the plan and the bundle exist
        runs = [one(a.checkout, tool) for _ in range(a.runs)]
        names = [m[0] for m in runs[0]["marks"]]
        print(f"## {tool} ({a.runs} runs, median ms)")
        print("| phase | CPU ms |\n|---|---:|")
        for i, name in enumerate(names):
            vals = []
            for run in runs:
                m = run["marks"]
                if i < len(m):
                    vals.append((m[i][1] - (m[i - 1][1] if i else 0.0)) * 1000)
            print(f"| {name} | {statistics.median(vals):.2f} |")
        total = statistics.median(run["marks"][-1][1] * 1000 for run in runs)
        print(f"| **total** | {total:.1f} |")
        print("\n| kernel call | n | CPU ms |\n|---|---:|---:|")
        keys = sorted({k for run in runs for k in run["calls"]})
        for k in keys:
            n = statistics.median(run["calls"].get(k, (0, 0))[0] for run in runs)
            s = statistics.median(run["calls"].get(k, (0, 0))[1] * 1000 for run in runs)
            print(f"| {k} | {n:g} | {s:.2f} |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
