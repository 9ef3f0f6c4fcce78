#!/usr/bin/env python3
"""Warm start of the tools that took upstream bcc's newer options (hoptsB), before and
after: time until the tool's header shows (loaded and attached) and the start's on-CPU
time, interleaved runs of two source trees under one interpreter.

usage: bench_tool_options_start.py BASE_SRC NEW_SRC [-n RUNS] [TOOL...]
(BASE_SRC: e.g. `git archive <base> src | tar -x -C /tmp/base`, then /tmp/base/src)."""

from __future__ import annotations

import os
import pty
import select
import signal
import statistics
import sys
import time

TOOLS = [("opensnoop", [], "PATH"), ("syscount", [], "Tracing"),
         ("statsnoop", [], "PATH"), ("mountsnoop", [], "CALL"),
         ("tcpconnect", [], "DPORT"), ("tcpretrans", [], "STATE"),
         ("tcpstates", [], "MS"), ("softirqs", [], "Tracing"), ("runqlat", [], "Tracing")]


def one(src: str, tool: str, args: list, ready: str) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=src)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    master, slave = pty.openpty()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.dup2(slave, 1)
        os.dup2(slave, 2)
        os.execve(sys.executable, [sys.executable, "-m", "pybpf", tool, *args], env)
    os.close(slave)
    buf = b""
    took = None
    while time.monotonic() - t0 < 30:
        if select.select([master], [], [], 0.5)[0]:
            try:
                buf += os.read(master, 65536)
            except OSError:
                break
            if ready.encode() in buf:
                took = time.monotonic() - t0
                break
    os.kill(pid, signal.SIGINT)
    _, status, ru = os.wait4(pid, 0)
    os.close(master)
    if took is None:
        raise SystemExit(f"{tool}: never ready: {buf[-300:]!r}")
    return took, ru.ru_utime + ru.ru_stime


def main() -> int:
    base, new = sys.argv[1], sys.argv[2]
    n = int(sys.argv[sys.argv.index("-n") + 1]) if "-n" in sys.argv else 10
    only = [a for a in sys.argv[3:] if a.isalpha()]
    print(f"{'tool':<11} {'ready base':>11} {'ready new':>10} {'ratio':>6} "
          f"{'cpu base':>9} {'cpu new':>8} {'ratio':>6}   (medians of {n}, ms)")
    for tool, args, ready in TOOLS:
        if only and tool not in only:
            continue
        for src in (base, new):
            one(src, tool, args, ready)            # warm: compile, plan
        got = {base: ([], []), new: ([], [])}
        for _ in range(n):
            for src in (base, new):
                t, c = one(src, tool, args, ready)
                got[src][0].append(t)
                got[src][1].append(c)
        rb, rn = (statistics.median(got[s][0]) * 1e3 for s in (base, new))
        cb, cn = (statistics.median(got[s][1]) * 1e3 for s in (base, new))
        print(f"{tool:<11} {rb:>11.1f} {rn:>10.1f} {rn / rb:>6.2f} {cb:>9.1f} {cn:>8.1f} "
              f"{cn / cb:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
