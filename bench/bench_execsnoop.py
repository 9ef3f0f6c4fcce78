#!/usr/bin/env python3
"""execsnoop against the reference tools, in one run: time to first event, peak RSS, and
exec storms (every exec captured? how much slower is the storm?).

usage: bench/bench_execsnoop.py [--runs N] [--storm N]
Needs root, ../shared/bench/{ready.py,execstorm.c}, and optionally libbpf-tools' execsnoop
(/usr/sbin/execsnoop), bpftrace's execsnoop.bt, bcc's execsnoop-bpfcc.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared", "bench")
PYBPF = [os.path.join(REPO, ".venv", "bin", "pybpf"), "execsnoop"]


def tools() -> dict[str, list[str]]:
    found = {"pybpf": PYBPF}
    if os.path.exists("/usr/sbin/execsnoop"):
        found["libbpf-tools"] = ["/usr/sbin/execsnoop"]
    if shutil.which("bpftrace") and os.path.exists("/usr/sbin/execsnoop.bt"):
        found["bpftrace"] = ["bpftrace", "/usr/sbin/execsnoop.bt"]
    bcc = shutil.which("execsnoop-bpfcc")
    if bcc:
        found["bcc"] = [bcc]
    return found


def ready(cmd: list[str], runs: int) -> tuple[float | None, float | None, str]:
    r = subprocess.run([sys.executable, os.path.join(SHARED, "ready.py"), "-n", str(runs),
                        "--", *cmd], capture_output=True, text=True, timeout=600)
    line = (r.stdout.strip().splitlines() or ["never ready"])[-1]
    m = re.search(r"ready_s median=([\d.]+).*peak_rss_mb median=([\d.]+)", line)
    if not m:
        return None, None, line
    return float(m[1]), float(m[2]), line


def build_storm(outdir: str) -> str:
    exe = os.path.join(outdir, "execstorm")
    subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(SHARED, "execstorm.c")], check=True)
    return exe


def storm(exe: str, n: int, marker: str) -> float:
    """Two parallel storms of n execs; returns the wall time of the slower one."""
    t0 = time.monotonic()
    ps = [subprocess.Popen([exe, str(n), marker], stdout=subprocess.DEVNULL) for _ in range(2)]
    for p in ps:
        p.wait()
    return time.monotonic() - t0


def storm_under(cmd: list[str] | None, exe: str, n: int) -> tuple[float, int | None]:
    """Storm time, and how many storm execs the tool printed (None without a tool)."""
    marker = f"STORM{os.getpid()}x{time.monotonic_ns()}"
    if cmd is None:
        return storm(exe, n, marker), None
    # a pty, so every tool line-buffers as it would for a person; a thread drains it
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    os.close(slave)
    buf = bytearray()

    def drain():
        while True:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf.extend(chunk)
    th = threading.Thread(target=drain, daemon=True)
    th.start()
    probe = f"PROBE{os.getpid()}".encode()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and probe not in buf:
        subprocess.run(["/bin/true", probe.decode()])
        time.sleep(0.05)
    t = storm(exe, n, marker)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    p.wait(30)
    th.join(5)
    os.close(master)
    got = sum(1 for line in bytes(buf).splitlines()
              if marker.encode() in line and b"/bin/true" in line)
    return t, got


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--storm", type=int, default=4000)
    a = ap.parse_args()
    # warm means warm: byte-compiled modules too (with PYTHONDONTWRITEBYTECODE set, an
    # edited module would otherwise be compiled again by every start)
    subprocess.run([os.path.join(REPO, ".venv", "bin", "python"), "-m", "compileall", "-q",
                    os.path.join(REPO, "src")], capture_output=True)
    found = tools()
    # warm pybpf's caches (compiled object, BTF index) so "warm start" means warm
    ready(PYBPF, 1)
    rows = []
    for name, cmd in found.items():
        t, rss, raw = ready(cmd, a.runs)
        rows.append((name, t, rss, raw))
    with tempfile.TemporaryDirectory() as d:
        exe = build_storm(d)
        base, _ = storm_under(None, exe, a.storm)
        storms = {name: storm_under(cmd, exe, a.storm) for name, cmd in found.items()
                  if name in ("pybpf", "libbpf-tools")}
    ref = next((t for n, t, _, _ in rows if n == "libbpf-tools"), None)
    print(f"# execsnoop benchmark, {time.strftime('%Y-%m-%d')}, {os.uname().release}, "
          f"{os.cpu_count()} CPUs\n")
    print("| tool | ready (median s) | vs libbpf-tools | peak RSS (MB) |")
    print("|---|---|---|---|")
    for name, t, rss, raw in rows:
        ratio = f"{t / ref:.2f}x" if t and ref else "-"
        print(f"| {name} | {t if t is not None else raw} | {ratio} | {rss} |")
    print(f"\nStorm: 2 x {a.storm} execs in parallel; baseline without a tool {base:.2f} s\n")
    print("| tool | storm time (s) | slowdown vs none | captured |")
    print("|---|---|---|---|")
    for name, (t, got) in storms.items():
        print(f"| {name} | {t:.2f} | {t / base:.2f}x | {got}/{2 * a.storm} |")
    return 0


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script
    benchmain.run(main)
