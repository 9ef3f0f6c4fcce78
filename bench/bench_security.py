#!/usr/bin/env python3
"""The audit's cost on an exec storm and an open storm, against no tracing and against
bcc's and libbpf-tools' execsnoop/opensnoop, in one run (ratios: the machine is shared).

usage: flock /tmp/pybpf-bench.lock bench/bench_security.py [--execs N] [--opens N] [--runs R]
Needs root, gcc, ../shared/bench/execstorm.c; the reference tools where installed.
Each figure is the storm's time with the tool running divided by its time with nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# the shared bench helpers: beside the repository (/work/main) or above a worktree
SHARED = next((d for d in (os.environ.get("PYBPF_SHARED_BENCH", ""),
                           os.path.join(os.path.dirname(REPO), "shared", "bench"),
                           os.path.join(os.path.dirname(os.path.dirname(REPO)), "shared",
                                        "bench"))
               if d and os.path.exists(os.path.join(d, "execstorm.c"))),
              os.path.join(os.path.dirname(REPO), "shared", "bench"))
PY = os.path.join(REPO, ".venv", "bin", "python")
ENV = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))

OPENSTORM_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    int n = atoi(argv[1]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        int fd = open(argv[2], O_RDONLY);
        if (fd >= 0)
            close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
"""


def build(tmp: str) -> tuple[str, str]:
    ex = os.path.join(tmp, "execstorm")
    subprocess.run(["gcc", "-O2", "-o", ex, os.path.join(SHARED, "execstorm.c")], check=True)
    src = os.path.join(tmp, "openstorm.c")
    with open(src, "w") as f:
        f.write(OPENSTORM_C)
    op = os.path.join(tmp, "openstorm")
    subprocess.run(["gcc", "-O2", "-o", op, src], check=True)
    return ex, op


class Tool:
    """A tracer running with its output in a file; ready once a marker shows up."""

    def __init__(self, cmd: list[str], poke, tmp: str):
        self.out = os.path.join(tmp, f"out-{uuid.uuid4().hex}")
        self.f = open(self.out, "wb")
        self.err = os.path.join(tmp, f"err-{uuid.uuid4().hex}")
        with open(self.err, "wb") as e:
            self.p = subprocess.Popen(cmd, stdout=self.f, stderr=e, env=ENV)
        marker = f"ready{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            poke(marker)
            with open(self.out, "rb") as r:
                if marker.encode() in r.read():
                    return
            if self.p.poll() is not None:
                self.f.close()
                with open(self.err, "rb") as e:
                    lines = e.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError(f"exited: {lines[-1] if lines else self.p.returncode}")
            time.sleep(0.2)
        raise RuntimeError(f"{cmd} never ready")

    def stop(self) -> None:
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.f.close()
        os.unlink(self.out)


def exec_storm(exe: str, n: int) -> float:
    t0 = time.monotonic()
    subprocess.run([exe, str(n), "BENCH"], check=True, capture_output=True)
    return time.monotonic() - t0


def open_storm(exe: str, n: int, path: str) -> float:
    r = subprocess.run([exe, str(n), path], check=True, capture_output=True, text=True)
    return float(r.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--execs", type=int, default=2000)
    ap.add_argument("--opens", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pybpf-bench-sec-")
    try:
        ex, op = build(tmp)
        watched = os.path.join(tmp, "w")
        os.mkdir(watched)
        target = os.path.join(watched, "target")
        open(target, "w").close()

        def poke_exec(m):
            subprocess.run(["/bin/true", m])

        def poke_open(m):
            p = os.path.join(watched, m)
            open(p, "w").close()

        audit = [PY, "-m", "pybpf.cli", "audit"]
        exec_tools = {"none": None,
                      "pybpf audit": (audit + ["-e", "exec"], poke_exec),
                      "pybpf audit (all events)": (audit, poke_exec)}
        open_tools = {"none": None,
                      "pybpf audit -w dir/* (every open reported)":
                          (audit + ["-e", "exec", "-w", watched + "/*"], poke_open),
                      "pybpf audit -w /etc/shadow (none reported)":
                          (audit + ["-e", "exec", "-w", "/etc/shadow"], poke_exec)}
        if os.path.exists("/usr/sbin/execsnoop"):
            exec_tools["libbpf-tools execsnoop"] = (["/usr/sbin/execsnoop"], poke_exec)
        if shutil.which("execsnoop-bpfcc"):
            exec_tools["bcc execsnoop"] = ([shutil.which("execsnoop-bpfcc")], poke_exec)
        if os.path.exists("/usr/sbin/opensnoop"):
            open_tools["libbpf-tools opensnoop"] = (["/usr/sbin/opensnoop"], poke_open)
        if shutil.which("opensnoop-bpfcc"):
            open_tools["bcc opensnoop"] = ([shutil.which("opensnoop-bpfcc")], poke_open)

        for title, table, run in (
                (f"exec storm ({a.execs} fork+exec)", exec_tools,
                 lambda: exec_storm(ex, a.execs)),
                (f"open storm ({a.opens} open+close of one file)", open_tools,
                 lambda: open_storm(op, a.opens, target))):
            # rounds of every configuration in turn, each against the round's own run
            # with no tracer: the machine's load drifts, ratios within a round do not
            ratios: dict[str, list[float]] = {n: [] for n in table}
            times: dict[str, list[float]] = {n: [] for n in table}
            broken: dict[str, str] = {}
            names = [n for n in table if table[n] is not None]
            for r in range(a.runs):
                # untraced runs open and close each round (their mean is the round's
                # base); the traced ones rotate, so drift does not favour one of them
                order = names[r % len(names):] + names[:r % len(names)]
                base_runs = []
                for name in ["none"] + order + ["none"]:
                    spec = table[name]
                    if name in broken:
                        continue
                    try:
                        tool = Tool(spec[0], spec[1], tmp) if spec else None
                    except RuntimeError as e:
                        broken[name] = str(e)
                        continue
                    try:
                        t = run()
                    finally:
                        if tool:
                            tool.stop()
                    times[name].append(t)
                    if spec is None:
                        base_runs.append(t)
                    else:
                        ratios[name].append(t)
                base = statistics.mean(base_runs)
                for name in order:
                    if name not in broken:
                        ratios[name][-1] /= base
                ratios["none"].append(1.0)
            print(f"{title}: median of {a.runs} rounds; time, and time / the mean time "
                  "with no tracer in the same round (run first and last)")
            for name in table:
                if name in broken:
                    print(f"  {name:<45} not runnable here: {broken[name]}")
                    continue
                print(f"  {name:<45} {statistics.median(times[name]):8.3f} s  "
                      f"{statistics.median(ratios[name]):5.2f}x")
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
