#!/usr/bin/env python3
"""pybpf's tools against Debian's libbpf-tools, in one run.

For each tool both have (and that runs on this kernel): time from start to the first
event (a marker the bench keeps triggering: a file opened, a port connected, a process
exiting...) or, for the counting tools, to their "Tracing..." banner; peak RSS (VmHWM);
and for the event tools, a storm of N marked events traced by both at once: how many
each caught.  Each tool runs in a pty (line-buffered, as for a person).

usage: bench/bench_tools.py [--runs N] [--storm N] [--only tool,tool] [--before CHECKOUT]

``--before`` also times the tools of another pybpf checkout (say, a detached worktree of
an older commit) in the same rounds, for a before/after comparison under the same load.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYTHON = os.path.join(REPO, ".venv", "bin", "python")
# the command as users have it: the installed script (bin/pybpf; `-m` would add runpy's
# imports, ~4 ms, that the installed command does not pay)
PYBPF = [PYTHON, os.path.join(REPO, "bin", "pybpf")]
os.environ["PYTHONPATH"] = os.path.join(REPO, "src")      # this checkout's pybpf
# byte-code cached as an installed wheel has it (this environment may forbid .pyc files;
# compiling every module on every start would be measured instead of the tool)
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(TMP_PYC := tempfile.mkdtemp(
    prefix="pybpf-bench-pyc-"), "pyc")
TMP = tempfile.mkdtemp(prefix="pybpf-bench-tools-")
TOKEN = f"{os.getpid() % 100000:05d}"


class Sleeper:
    """A long sleep whose pid is a marker (kill/signal targets)."""
    p = None

    @classmethod
    def pid(cls) -> int:
        if cls.p is None:
            cls.p = subprocess.Popen(["sleep", "3600"])
        return cls.p.pid


def _exit_marker() -> str:
    path = os.path.join(TMP, f"mk{TOKEN}")
    if not os.path.exists(path):
        os.symlink("/bin/true", path)
    return path


_SERVER = None


def _server():
    global _SERVER
    if _SERVER is None:
        _SERVER = socket.socket()
        _SERVER.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _SERVER.bind(("127.0.0.1", 0))
        _SERVER.listen(1024)
    return _SERVER


def _session():
    srv = _server()
    c = socket.create_connection(srv.getsockname())
    a, _ = srv.accept()
    c.close()
    a.close()


def _blockio():
    path = os.path.join(TMP, "blocks")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(os.urandom(1 << 20))
            os.fsync(f.fileno())
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=64k", "count=4", "iflag=direct"],
                   stderr=subprocess.DEVNULL)


# tool: (pybpf args, libbpf-tools args, trigger(), marker(), storm(n) or None)
def cases() -> dict:
    port = lambda: str(_server().getsockname()[1])   # noqa: E731
    open_path = os.path.join(TMP, f"open-{TOKEN}")
    return {
        "opensnoop": ([], [], lambda: _try_open(open_path), lambda: f"open-{TOKEN}",
                      lambda n: [_try_open(open_path) for _ in range(n)]),
        "statsnoop": ([], [], lambda: os.path.exists(open_path), lambda: f"open-{TOKEN}",
                      lambda n: [os.path.exists(open_path) for _ in range(n)]),
        "exitsnoop": ([], [], lambda: subprocess.run([_exit_marker()]),
                      lambda: f"mk{TOKEN}",
                      lambda n: [subprocess.run([_exit_marker()]) for _ in range(n)]),
        "killsnoop": ([], [], lambda: os.kill(Sleeper.pid(), 0),
                      lambda: f" {Sleeper.pid()} ",
                      lambda n: [os.kill(Sleeper.pid(), 0) for _ in range(n)]),
        "sigsnoop": ([], [], lambda: os.kill(Sleeper.pid(), signal.SIGCONT),
                     lambda: f" {Sleeper.pid()} ",
                     lambda n: [os.kill(Sleeper.pid(), signal.SIGCONT) for _ in range(n)]),
        "tcplife": ([], [], _session, port, lambda n: [_session() for _ in range(n)]),
        "tcpstates": ([], [], _session, port, lambda n: [_session() for _ in range(n)]),
        "gethostlatency": ([], [], lambda: socket.getaddrinfo("127.3.4.5", None),
                           lambda: "127.3.4.5",
                           lambda n: [socket.getaddrinfo("127.3.4.5", None)
                                      for _ in range(n)]),
        "runqlat": ([], [], None, lambda: "Hit Ctrl-C", None),
        "cpudist": ([], [], None, lambda: "Hit Ctrl-C", None),
        "hardirqs": ([], [], None, lambda: "Hit Ctrl-C", None),
        "softirqs": ([], [], None, lambda: "Hit Ctrl-C", None),
        "biolatency": ([], [], None, lambda: "Hit Ctrl-C", None),
        "bitesize": ([], [], None, lambda: "Hit Ctrl-C", None),
        "syscount": ([], [], None, lambda: "Ctrl+C to quit", None),
        "biotop": (["-C"], ["-C"], _blockio, lambda: "loadavg", None),
    }


def _try_open(path):
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError:
        pass


def cpu_ns(pid: int) -> int | None:
    """CPU time the process has run so far (the scheduler's own count, in ns): unlike the
    wall time to ready, it does not grow when other jobs hold the CPUs."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Pty:
    """A tool running in a pty; its output collected."""

    def __init__(self, cmd, pythonpath: str | None = None):
        self.master, slave = pty.openpty()
        env = None if pythonpath is None else {**os.environ, "PYTHONPATH": pythonpath}
        self.p = subprocess.Popen(cmd, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                                  start_new_session=True, env=env)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.buf = b""
        self.hwm = 0

    def pump(self, timeout: float) -> None:
        r, _, _ = select.select([self.master], [], [], timeout)
        if r:
            try:
                self.buf += os.read(self.master, 1 << 20)
            except OSError:
                pass
        self.hwm = max(self.hwm, hwm(self.p.pid))

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        end = time.monotonic() + 10
        while self.p.poll() is None and time.monotonic() < end:
            self.pump(0.05)
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for _ in range(20):
            try:
                chunk = os.read(self.master, 1 << 20)
            except OSError:
                break
            if not chunk:
                break
            self.buf += chunk
        os.close(self.master)


def ready_time(cmd, trigger, marker: str, timeout: float = 30) -> tuple:
    """(seconds to the marker or None, peak RSS in KB, CPU ms used until then or None)."""
    env = None
    if isinstance(cmd, tuple):              # (cmd, PYTHONPATH): another checkout's pybpf
        cmd, env = cmd
    t0 = time.monotonic()
    tool = Pty(cmd, env)
    t_ready = cpu = None
    try:
        while time.monotonic() - t0 < timeout:
            if trigger:
                trigger()
            tool.pump(0.005)
            if marker.encode() in tool.buf:
                t_ready = time.monotonic() - t0
                ns = cpu_ns(tool.p.pid)
                cpu = None if ns is None else ns / 1e6
                break
            if tool.p.poll() is not None:
                break
        time.sleep(0.2)
        tool.pump(0)
    finally:
        tool.stop()
    return t_ready, tool.hwm, cpu


def storm(cmds: dict, trigger, marker: str, storm_fn, n: int) -> dict:
    """Both tools tracing at once; ``n`` marked events; how many lines each shows."""
    tools = {k: Pty(c) for k, c in cmds.items()}
    try:
        end = time.monotonic() + 60
        ready = set()
        while len(ready) < len(tools) and time.monotonic() < end:
            trigger()
            for k, t in tools.items():
                t.pump(0.005)
                if marker.encode() in t.buf:
                    ready.add(k)
        base = {k: t.buf.count(marker.encode()) for k, t in tools.items()}
        storm_fn(n)
        settle = time.monotonic() + 2
        while time.monotonic() < settle:
            for t in tools.values():
                t.pump(0.02)
    finally:
        for t in tools.values():
            t.stop()
    return {k: t.buf.count(marker.encode()) - base[k] for k, t in tools.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--storm", type=int, default=2000)
    ap.add_argument("--only")
    ap.add_argument("--before", metavar="CHECKOUT",
                    help="also time this other pybpf checkout's tools (its src/)")
    a = ap.parse_args()
    started = time.monotonic()
    before_src = os.path.join(os.path.abspath(a.before), "src") if a.before else None
    only = set(a.only.split(",")) if a.only else None
    rows = []
    cpu_rows = []
    storms = []
    for tool, (pargs, largs, trigger, marker, storm_fn) in cases().items():
        if only and tool not in only:
            continue
        ref = f"/usr/sbin/{tool}"
        if not os.path.exists(ref):
            print(f"{tool}: no {ref}; skipped", file=sys.stderr)
            continue
        mk = marker()
        sides = [("pybpf", PYBPF + [tool] + pargs), ("libbpf-tools", [ref] + largs)]
        if before_src:
            old = os.path.join(os.path.abspath(a.before), "bin", "pybpf")
            cmd = [PYTHON, old] if os.path.exists(old) else [PYTHON, "-m", "pybpf"]
            sides.insert(0, ("before", (cmd + [tool] + pargs, before_src)))
        res = {name: [] for name, _ in sides}
        for _, cmd in sides[:-1]:
            ready_time(cmd, trigger, mk)          # warm: compile, plan, caches
        for i in range(a.runs):
            for name, cmd in sides:
                if name == "libbpf-tools" and i and not any(r[0] for r in res[name]):
                    continue    # it never showed the marker: 30 s more each run tell nothing
                res[name].append(ready_time(cmd, trigger, mk))
        med = {}
        for name, rs in res.items():
            ts = [r[0] for r in rs if r[0] is not None]
            cs = [r[2] for r in rs if r[0] is not None and r[2] is not None]
            med[name] = (statistics.median(ts) if ts else None,
                         statistics.median([r[1] for r in rs]) / 1024, len(ts),
                         statistics.median(cs) if cs else None)
        p, lb = med["pybpf"], med["libbpf-tools"]
        ratio = p[0] / lb[0] if p[0] and lb[0] else None
        b = med.get("before")
        bratio = b[0] / lb[0] if b and b[0] and lb[0] else None
        rows.append((tool, p, lb, ratio, b, bratio))
        cpu_rows.append((tool, b, p, lb))
        print(f"{tool}: pybpf {p[0]} s {p[1]:.1f} MB ({p[2]}/{a.runs}); libbpf-tools "
              f"{lb[0]} s {lb[1]:.1f} MB ({lb[2]}/{len(res['libbpf-tools'])}); ratio {ratio}"
              + (f"; before {b[0]} s, ratio {bratio}" if b else ""), flush=True)
        if storm_fn and lb[2]:
            n = a.storm if tool not in ("exitsnoop", "tcplife", "tcpstates") else a.storm // 4
            got = storm({"pybpf": PYBPF + [tool] + pargs, "libbpf-tools": [ref] + largs},
                        trigger, mk, storm_fn, n)
            storms.append((tool, n, got))
            print(f"  storm of {n}: {got}", flush=True)
    f = lambda v: "-" if v is None else f"{v:.3f}"       # noqa: E731
    x = lambda r: "-" if r is None else f"{r:.2f}x"      # noqa: E731
    if before_src:
        print("\n| tool | before ready (s) | ratio | after ready (s) | ratio | libbpf-tools "
              "ready (s) | before / after peak RSS (MB) | libbpf-tools peak RSS (MB) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for tool, p, lb, ratio, b, bratio in rows:
            print(f"| {tool} | {f(b[0])} | {x(bratio)} | {f(p[0])} | {x(ratio)} | {f(lb[0])} "
                  f"| {b[1]:.1f} / {p[1]:.1f} | {lb[1]:.1f} |")
    else:
        print("\n| tool | pybpf ready (s) | libbpf-tools ready (s) | ratio | pybpf peak RSS (MB) "
              "| libbpf-tools peak RSS (MB) |")
        print("|---|---:|---:|---:|---:|---:|")
        for tool, p, lb, ratio, _, _ in rows:
            print(f"| {tool} | {f(p[0])} | {f(lb[0])} | {x(ratio)} | {p[1]:.1f} | {lb[1]:.1f} |")
    c = lambda v: "-" if v is None else f"{v:.1f}"       # noqa: E731
    cr = lambda a, b: "-" if not a or not b else f"{a / b:.2f}x"   # noqa: E731
    print("\nCPU time until ready (ms, median; /proc/PID/schedstat: what the start costs, "
          "less sensitive to other jobs than the wall time):")
    print("\n| tool | " + ("before | ratio | " if before_src else "") +
          "pybpf | ratio | libbpf-tools |")
    print("|---|" + ("---:|---:|" if before_src else "") + "---:|---:|---:|")
    for tool, b, p, lb in cpu_rows:
        print(f"| {tool} | " + (f"{c(b[3])} | {cr(b[3], lb[3])} | " if before_src else "") +
              f"{c(p[3])} | {cr(p[3], lb[3])} | {c(lb[3])} |")
    if storms:
        print("\n| tool | marked events | pybpf shown | libbpf-tools shown |")
        print("|---|---:|---:|---:|")
        for tool, n, got in storms:
            print(f"| {tool} | {n} | {got['pybpf']} | {got['libbpf-tools']} |")
    print(f"\n(bench took {time.monotonic() - started:.0f} s)")
    return 0


def cleanup() -> None:
    """The marker sleeper and the temporary directories, whatever ended the bench."""
    if Sleeper.p:
        Sleeper.p.kill()
        Sleeper.p.wait()
    import shutil
    shutil.rmtree(TMP, ignore_errors=True)
    shutil.rmtree(TMP_PYC, ignore_errors=True)


if __name__ == "__main__":
    import benchmain  # bench/: one quiet end for every script

    def _main():
        try:
            return main()
        finally:
            cleanup()
    benchmain.run(_main)
