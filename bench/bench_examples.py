#!/usr/bin/env python3
"""Start-to-attached time of each example (examples/<name>/<name>.py) against the same
object loaded and attached by C on libbpf (bench/examples/c_attach.c), in the same run.

Both print a line once attached; the time is from exec to that line (median of N, after
one untimed warm-up run that fills pybpf's compile cache and load plans).  The
interpreter's own start (``python -c "print()"``) is measured alongside: the goal is
python <= 2 x C + interpreter start.

With ``--floor`` (minimal and profile by default) it also measures, in the same run,
``python -c "import ctypes"`` and bench/examples/floor_attach.py: only the system calls of
the example's load plan and attach through ctypes, no pybpf: the least a Python start can
cost.

With ``--before REV`` it times each example as it is against the same example at git
revision REV (its examples/ and src/), in turn: what a change saved.

usage: flock /tmp/pybpf-bench.lock bench/bench_examples.py [--runs N] [--floor]
       [--before REV] [names...]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(REPO, ".venv", "bin", "python")
# bytecode caching as users have it (a harness may export PYTHONDONTWRITEBYTECODE)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = os.path.join(REPO, "src")
ARGS = {"minimal": ["-i", "0.2"], "minimal_ns": ["-i", "0.2"], "uprobe": ["-i", "0.2"],
        "tc": ["--port", "9999"]}
EXAMPLES = ["minimal", "minimal_ns", "bootstrap", "uprobe", "usdt", "tc", "sockfilter",
            "task_iter", "profile"]


def first_line(argv, env=None, interrupt: bool = True) -> float:
    """Seconds from exec to the first line on stdout; the process is then stopped (SIGINT,
    the examples' Ctrl-C path, or for the C side end of stdin: both tear down)."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    line = p.stdout.readline()
    dt = time.perf_counter() - t
    try:
        # on-CPU time so far (ns): less sensitive to a busy machine than the wall clock,
        # blind to sleeps in the kernel (a tcx attach's RCU grace period)
        with open(f"/proc/{p.pid}/schedstat") as f:
            CPU.append(int(f.read().split()[0]) / 1e9)
    except (OSError, ValueError, IndexError):
        CPU.append(float("nan"))
    if not line:
        raise RuntimeError(f"{argv} printed nothing")
    if interrupt and p.poll() is None:
        p.send_signal(signal.SIGINT)
    stopped = time.perf_counter()
    try:
        p.communicate(timeout=10)         # closes stdin: the C side's cue to tear down
    except subprocess.TimeoutExpired:
        # slow to exit: a lost interrupt, or a teardown waiting in the kernel (closing
        # uprobes and tracepoints waits for RCU grace periods, long on a loaded machine).
        # Say which, and give it time: a SIGKILL mid-teardown can leave a tc filter behind
        name = os.path.basename(argv[1] if len(argv) > 1 else argv[0])
        where = _where(p.pid)
        try:
            p.communicate(timeout=50)
            print(f"  note: {name} took {time.perf_counter() - stopped:.1f} s to exit "
                  f"({where} 10 s after the signal)", file=sys.stderr)
        except subprocess.TimeoutExpired:
            print(f"  note: {name} still running 60 s after the signal ({where}); SIGKILL",
                  file=sys.stderr)
            p.kill()
            p.communicate(timeout=10)
    return dt


def _where(pid: int) -> str:
    """Whether ``pid`` handles SIGINT, and where in the kernel it waits."""
    try:
        with open(f"/proc/{pid}/status") as f:
            caught = next(int(ln.split()[1], 16) for ln in f if ln.startswith("SigCgt"))
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read().strip() or "running"
    except (OSError, StopIteration, ValueError):
        return "state unknown"
    return f"SIGINT {'handled' if caught & 2 else 'NOT handled'}, in {wchan}"


CPU: list[float] = []                    # each first_line's on-CPU seconds, in order


def median(fn, runs: int) -> float:
    fn()                                  # warm-up: caches, plans, page cache
    return statistics.median(fn() for _ in range(runs))


def interleaved(fns: dict, runs: int) -> dict:
    """name -> (median wall, median on-CPU seconds): one warm-up each, then the
    functions in turn ``runs`` times."""
    for fn in fns.values():
        fn()
    walls: dict = {k: [] for k in fns}
    cpus: dict = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            walls[k].append(fn())
            cpus[k].append(CPU[-1])
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in fns}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--floor", action="store_true",
                    help="also time `import ctypes` and a ctypes-only load and attach")
    ap.add_argument("--before", metavar="REV",
                    help="time the examples against their state at git revision REV")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    args.names = args.names or (["minimal", "profile"] if args.floor else EXAMPLES)
    sys.path.insert(0, os.path.join(REPO, "src"))
    import pybpf
    with tempfile.TemporaryDirectory(prefix="pybpf-bench-ex-") as tmp:
        c_bin = os.path.join(tmp, "c_attach")
        subprocess.run(["gcc", "-O2", "-o", c_bin,
                        os.path.join(REPO, "bench", "examples", "c_attach.c"),
                        "-lbpf", "-lelf", "-lz"], check=True)
        interp = median(lambda: first_line([PY, "-c", "print()"], ENV), args.runs)
        print(f"interpreter start (python -c print()): {interp * 1e3:.1f} ms\n")
        if args.floor:
            return _floor(args, tmp, c_bin)
        if args.before:
            return _before(args, tmp)
        print("per example, the interpreter, C and pybpf run in turn (a burst of load hits "
              "all three);\nwall ms, and (pybpf - interpreter) / C by wall and by on-CPU "
              "time\n")
        print(f"{'example':<12} {'interp':>7} {'C libbpf':>9} {'pybpf':>8} {'ratio':>6} "
              f"{'(py-interp)/C':>14} {'on-CPU':>7}  goal <= 2")
        for name in args.names:
            obj = os.path.join(tmp, f"{name}.bpf.o")
            with open(obj, "wb") as f:
                f.write(pybpf.compile(os.path.join(REPO, "examples", name, f"{name}.bpf.c")))
            runs = {
                "interp": lambda: first_line([PY, "-c", "print()"], ENV),
                "c": lambda: first_line([c_bin, name, obj], interrupt=False),
                "py": lambda: first_line([PY, os.path.join(REPO, "examples", name,
                                                           f"{name}.py"),
                                          *ARGS.get(name, [])], ENV),
            }
            m = interleaved(runs, args.runs)
            (i, i_cpu), (c, c_cpu), (py, py_cpu) = m["interp"], m["c"], m["py"]
            print(f"{name:<12} {i * 1e3:>5.1f}ms {c * 1e3:>7.1f}ms {py * 1e3:>6.1f}ms "
                  f"{py / c:>6.1f} {(py - i) / c:>14.2f} {(py_cpu - i_cpu) / c_cpu:>7.2f}  "
                  f"{'ok' if py <= 2 * c + i else 'OVER'}", flush=True)
    return 0


def _floor(args, tmp: str, c_bin: str) -> int:
    """Each example against its floor: interpreter, ctypes, the plan's syscalls."""
    import marshal
    import pybpf
    from pybpf.object import plan as plans
    floor_env = dict(ENV, PYTHONPATH=os.path.join(REPO, "bench", "examples"))
    print("per example, the interpreter, `import ctypes`, C, the floor and pybpf run in "
          "turn;\nmedian wall / on-CPU ms from exec to the first line, then (x - interpreter) "
          "/ C\n")
    print(f"{'example':<9} {'interp':>10} {'ctypes':>10} {'C libbpf':>10} {'floor':>10} "
          f"{'pybpf':>10}  wall: floor pybpf  on-CPU: floor pybpf")
    for name in args.names:
        src = os.path.join(REPO, "examples", name, f"{name}.bpf.c")
        argv = [PY, os.path.join(REPO, "examples", name, f"{name}.py"),
                *ARGS.get(name, [])]
        first_line(argv, ENV)                       # records the load plan
        data = pybpf.compile(src)
        # load("x.bpf.c") names its plan by the object's sha256 (pybpf.srcrecord)
        import hashlib
        p = plans.read(plans.key(data, name, identity=hashlib.sha256(data).hexdigest())) \
            or plans.read(plans.key(data, name))
        if p is None:
            raise RuntimeError(f"{name}: no load plan was recorded")
        attach = [(e["name"], "tracepoint" if e["section"].startswith("tp/") else "cpu-clock",
                   e["section"].split("/", 1)[1] if e["section"].startswith("tp/") else 49)
                  for e in p["progs"]]
        pid = p["globals"].get("my_pid")
        recipe = os.path.join(tmp, f"{name}.floor")
        with open(recipe, "wb") as f:
            marshal.dump((p, attach, pid[1] if pid else None), f)
        obj = os.path.join(tmp, f"{name}.bpf.o")
        with open(obj, "wb") as f:
            f.write(data)
        m = interleaved({
            "interp": lambda: first_line([PY, "-c", "print()"], ENV),
            "ctypes": lambda: first_line([PY, "-c", "import ctypes; print()"], ENV),
            "c": lambda: first_line([c_bin, name, obj], interrupt=False),
            # imported, not run as a script: its bytecode cached, as pybpf's is
            "floor": lambda: first_line([PY, "-c", "from floor_attach import main; main()",
                                         recipe], floor_env, interrupt=False),
            "py": lambda: first_line(argv, ENV),
        }, args.runs)

        def ms(k):
            return f"{m[k][0] * 1e3:4.1f}/{m[k][1] * 1e3:4.1f}"

        def ratio(k, i):
            return (m[k][i] - m["interp"][i]) / m["c"][i]
        print(f"{name:<9} {ms('interp'):>10} {ms('ctypes'):>10} {ms('c'):>10} "
              f"{ms('floor'):>10} {ms('py'):>10}  {'':>5} {ratio('floor', 0):5.2f} "
              f"{ratio('py', 0):5.2f}  {'':>7} {ratio('floor', 1):5.2f} {ratio('py', 1):5.2f}",
              flush=True)
    return 0


def _before(args, tmp: str) -> int:
    """Each example now against itself at revision ``args.before``, in turn."""
    old = os.path.join(tmp, "before")
    os.mkdir(old)
    archive = subprocess.run(["git", "-C", REPO, "archive", args.before, "examples", "src"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
    print(f"each example at {args.before} and now, in turn: median wall / on-CPU ms to the "
          "first line\n")
    print(f"{'example':<11} {'before':>13} {'now':>13} {'saved: wall':>12} {'on-CPU':>7}")
    for name in args.names:
        def run(root):
            env = dict(ENV, PYTHONPATH=os.path.join(root, "src"))
            argv = [PY, os.path.join(root, "examples", name, f"{name}.py"),
                    *ARGS.get(name, [])]
            return lambda: first_line(argv, env)
        m = interleaved({"old": run(old), "new": run(REPO)}, args.runs)
        (o, oc), (n, nc) = m["old"], m["new"]
        print(f"{name:<11} {o * 1e3:6.1f}/{oc * 1e3:5.1f} {n * 1e3:6.1f}/{nc * 1e3:5.1f} "
              f"{(o - n) * 1e3:10.1f}ms {(oc - nc) * 1e3:5.1f}ms", flush=True)
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
