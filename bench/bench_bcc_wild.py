#!/usr/bin/env python3
"""Warm start of real-world bcc scripts (the hwild corpus, outside the repository): bcc
0.26 (``python3 script``) against ``pybpf run script``, same kernel, interleaved runs.

usage: bench/bench_bcc_wild.py [-n RUNS] [--timeout S] SCRIPT...

Each run starts the script in a pty (line-buffered, as for a person) in the script's own
directory while a trigger keeps starting short-lived children with a unique name (comm),
each opening a file named after it and exec'ing /bin/true: openat and execve events and
every trace_pipe line of theirs carry the name.  Ready = the name appears in the script's
output, so the time counts compile, load, attach and the first event's way out.  CPU =
user + system time of the script's process tree until then (it is signalled right after).
Run it under the bench lock: ``flock /tmp/pybpf-bench.lock bench/bench_bcc_wild.py ...``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import pty
import resource
import select
import signal
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PY = os.path.join(os.path.dirname(HERE), ".venv", "bin", "python")
PR_SET_NAME = 15


def _trigger(name: bytes) -> int:
    """A child named ``name`` that opens /tmp/<name> and execs /bin/true."""
    pid = os.fork()
    if pid == 0:
        try:
            ctypes.CDLL(None).prctl(PR_SET_NAME, name, 0, 0, 0)
            try:
                os.close(os.open(b"/tmp/" + name, os.O_RDONLY))
            except OSError:
                pass
            os.execv("/bin/true", ["true"])
        finally:
            os._exit(1)
    return pid


def one(script: str, how: str, timeout: float) -> tuple[float | None, float]:
    mark = b"hwm%d" % (time.monotonic_ns() % 10**9)
    cmd = ["/usr/bin/python3", script] if how == "bcc" else \
        [VENV_PY, "-m", "pybpf", "run", script]
    master, slave = pty.openpty()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                         cwd=os.path.dirname(os.path.abspath(script)),
                         start_new_session=True)
    os.close(slave)
    buf, ready = b"", None
    try:
        while time.monotonic() - t0 < timeout and ready is None:
            child = _trigger(mark)
            r, _, _ = select.select([master], [], [], 0.01)
            if r:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                buf = (buf + chunk)[-(1 << 16):]
                if mark in buf:
                    ready = time.monotonic() - t0
            os.waitpid(child, 0)
    finally:
        try:
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        os.close(master)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the trigger's children count too: each is a fork + exec of /bin/true, the same for
    # both ways, and small beside a compile
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ready, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("scripts", nargs="+")
    a = ap.parse_args()
    print("| script | bcc ready (s) | pybpf ready (s) | ratio | bcc CPU (s) | pybpf CPU (s) |")
    print("|---|---|---|---|---|---|")
    for s in a.scripts:
        got = {"bcc": [], "pybpf": []}
        one(s, "pybpf", a.timeout)                       # warm pybpf's cache
        for _ in range(a.runs):
            for how in ("bcc", "pybpf"):                 # interleaved
                got[how].append(one(s, how, a.timeout))
        med = {}
        for how, runs in got.items():
            ready = [r for r, _ in runs if r is not None]
            med[how] = (statistics.median(ready) if len(ready) == len(runs) else None,
                        statistics.median(c for _, c in runs))
        b, p = med["bcc"], med["pybpf"]
        ratio = f"{p[0] / b[0]:.2f}" if b[0] and p[0] else "-"
        fmt = (lambda v: f"{v:.2f}" if v is not None else "no marker")
        print(f"| {s} | {fmt(b[0])} | {fmt(p[0])} | {ratio} | {b[1]:.2f} | {p[1]:.2f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
