#!/usr/bin/env python3
"""Send SIGINT/SIGTERM to pybpf commands at random moments of their start and report
every run that does not end in time, ends with an unexpected status, or prints
"Exception ignored"/a traceback.

    scripts/signal_stress.py [-n RUNS] [-j PARALLEL] [--max-delay MS] [--timeout S] [CMD...]

CMD names come from COMMANDS below (default: all).  Each child runs with a
``sitecustomize`` that registers faulthandler on SIGUSR2: a run still alive after the
timeout gets its kernel stack (/proc/PID/stack, wchan) and its Python stacks dumped, then
SIGKILL.  A diagnostic tool, not a test (tests/test_stop_signals.py holds the tests).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = os.path.join(ROOT, ".venv", "bin", "python")
PYBPF = [PY, "-m", "pybpf"]
sys.path.insert(0, ROOT)
from tests.toolrun import catches_sigterm  # noqa: E402  (the tests' own check)

COMMANDS = {
    "execsnoop": PYBPF + ["execsnoop"],
    "opensnoop": PYBPF + ["opensnoop"],
    "softirqs": PYBPF + ["softirqs", "1"],
    "runqlat": PYBPF + ["runqlat", "1"],
    "biolatency": PYBPF + ["biolatency", "1"],
    "profile": PYBPF + ["profile", "-F", "49"],
    "audit": PYBPF + ["audit"],
    "exporter": PYBPF + ["exporter", "-c", "exec", "--listen", "127.0.0.1:0"],
    "run-execsnoop": PYBPF + ["run", "/usr/sbin/execsnoop-bpfcc"],
    "minimal": [PY, os.path.join(ROOT, "examples", "minimal", "minimal.py")],
    "bootstrap": [PY, os.path.join(ROOT, "examples", "bootstrap", "bootstrap.py")],
}
EXAMPLES = ("minimal", "bootstrap")

# exit statuses that count as clean: 0 once tracing, 128+signal before; a bcc script
# under pybpf run dies of SIGTERM (python's default) and ends on ^C with 130 or 0
OK = {signal.SIGINT: {0, 130, 1}, signal.SIGTERM: {0, 143, -signal.SIGTERM}}

SITE = """\
import faulthandler
faulthandler.register(12, all_threads=True)     # SIGUSR2 (no signal.py: no enum import)
"""


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return f"({e})"


def one(name: str, argv: list[str], sig: int, delay: float, timeout: float, env) -> dict:
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = []
    t = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not catches_sigterm(p.pid) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0002)
    time.sleep(delay)
    p.send_signal(sig)
    res = {"name": name, "sig": sig, "delay": delay, "pid": p.pid}
    try:
        res["rc"] = p.wait(timeout)
    except subprocess.TimeoutExpired:
        res["rc"] = None
        res["wchan"] = _read(f"/proc/{p.pid}/wchan")
        res["kstack"] = _read(f"/proc/{p.pid}/stack")
        res["status"] = "".join(line for line in _read(f"/proc/{p.pid}/status").splitlines(True)
                                if line.startswith(("State", "Sig", "Shd")))
        p.send_signal(signal.SIGUSR2)
        time.sleep(1.0)
        p.kill()
        p.wait()
    t.join(5)
    res["stderr"] = (err[0] if err else b"").decode(errors="replace")
    return res


# the examples: Ctrl-C and kill are both KeyboardInterrupt (pybpf.interrupts)
EXAMPLE_OK = {0, 130}


def bad(res: dict) -> bool:
    if res["rc"] is None:
        return True
    ok = EXAMPLE_OK if res["name"] in EXAMPLES else OK[res["sig"]]
    if res["rc"] not in ok:
        return True
    e = res["stderr"]
    return "Exception ignored" in e or ("Traceback" in e and res["rc"] != 1) or \
        "Fatal Python error" in e


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=50)
    ap.add_argument("-j", "--parallel", type=int, default=2)
    ap.add_argument("--max-delay", type=float, default=300.0, help="ms")
    ap.add_argument("--timeout", type=float, default=8.0)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--src", default=os.path.join(ROOT, "src"),
                    help="the pybpf sources to run (another checkout's, to compare)")
    ap.add_argument("commands", nargs="*")
    a = ap.parse_args()
    names = a.commands or list(COMMANDS)
    rnd = random.Random(a.seed)
    site = tempfile.mkdtemp(prefix="sigstress-")
    with open(os.path.join(site, "sitecustomize.py"), "w") as f:
        f.write(SITE)
    env = dict(os.environ, PYTHONPATH=site + os.pathsep + a.src)
    jobs = [(rnd.choice(names), rnd.choice((signal.SIGINT, signal.SIGTERM)),
             rnd.uniform(0, a.max_delay) / 1000) for _ in range(a.runs)]
    lock = threading.Lock()
    failures = []
    done = [0]

    def worker():
        while True:
            with lock:
                if not jobs:
                    return
                name, sig, delay = jobs.pop()
            r = one(name, COMMANDS[name], sig, delay, a.timeout, env)
            with lock:
                done[0] += 1
                if bad(r):
                    failures.append(r)
                    print(f"--- {name} sig={sig} delay={delay * 1000:.1f}ms rc={r['rc']}",
                          flush=True)
                    for k in ("wchan", "status", "kstack", "stderr"):
                        if r.get(k):
                            print(f"[{k}]\n{r[k]}", flush=True)
    threads = [threading.Thread(target=worker) for _ in range(a.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.unlink(os.path.join(site, "sitecustomize.py"))
    os.rmdir(site)
    print(f"{done[0]} runs, {len(failures)} bad "
          f"({sum(r['rc'] is None for r in failures)} hung)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
