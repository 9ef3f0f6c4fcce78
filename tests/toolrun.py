"""Running a pybpf tool under test: start it, wait until it is tracing, stop it with
SIGINT and collect its output (stdout lines, stderr)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
# Every timeout here is this many times longer in a kernel-matrix guest: under TCG on a
# loaded host a tool's start alone took over 60 s (hold61's 6.1 runs at load 13-20).
# Timeouts only bound a failing wait; a passing one ends when its text shows.
SLOW = 5 if os.environ.get("PYBPF_IN_VM") == "1" else 1


class ToolRun:
    """``pybpf <tool> <args>``; ready once ``ready`` (a substring) shows on stdout (or on
    stderr: interval tools in --json mode print their banner there)."""

    def __init__(self, tool: str, *args: str, ready: str | None = None, timeout: float = 60,
                 stdin=subprocess.DEVNULL, argv: list[str] | None = None):
        """``argv``: the command line in place of ``pybpf tool args`` (a tool run a
        test's own way)."""
        env = dict(os.environ)
        env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
        self.p = subprocess.Popen(argv or [sys.executable, "-m", "pybpf", tool, *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=stdin, env=env)
        self.out: list[str] = []
        self.raw: list[bytes] = []      # the same lines as bytes (names not UTF-8)
        self.err = b""
        self._buf = {self.p.stdout.fileno(): b"", self.p.stderr.fileno(): b""}
        if ready is not None:
            self.wait_for(ready, timeout)

    def _pump(self, timeout: float) -> bool:
        fds = [fd for fd in self._buf if fd >= 0]
        r, _, _ = select.select(fds, [], [], timeout)
        got = False
        for fd in r:
            chunk = os.read(fd, 65536)
            if not chunk:
                self._buf.pop(fd)
                self._buf[-fd - 1] = b""
                continue
            got = True
            if fd == self.p.stdout.fileno():
                data = self._buf[fd] + chunk
                *lines, self._buf[fd] = data.split(b"\n")
                self.raw.extend(lines)
                self.out.extend(x.decode(errors="replace") for x in lines)
            else:
                self.err += chunk
        return got

    def wait_for(self, text: str, timeout: float = 60, trigger=None) -> None:
        """Until ``text`` shows on stdout or stderr, calling ``trigger()`` between looks."""
        self.wait_until(lambda: any(text in line for line in self.out)
                        or text.encode() in self.err, timeout, trigger, what=repr(text))

    def wait_until(self, cond, timeout: float = 60, trigger=None, what: str = "") -> None:
        """Until ``cond()`` (on what has been read so far) holds, calling ``trigger()``
        between looks; an AssertionError with the output's tail when it never does."""
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if cond():
                return
            if trigger:
                trigger()
            if not self._pump(0.05) and self.p.poll() is not None and not any(
                    fd >= 0 for fd in self._buf):
                if cond():
                    return
                break
        raise AssertionError(f"{what or cond} never showed; out={self.out[-5:]} "
                             f"err={self.err.decode(errors='replace')[-2000:]}")

    def wait_links(self, n: int, timeout: float = 60) -> None:
        """Until the tool holds ``n`` BPF links (its hooks attached): for a tool that
        prints nothing before its first report, so no banner can say it is tracing."""
        def links() -> int:
            got = 0
            try:
                for fd in os.listdir(f"/proc/{self.p.pid}/fdinfo"):
                    try:
                        with open(f"/proc/{self.p.pid}/fdinfo/{fd}") as f:
                            got += "\nlink_id:" in f.read()
                    except OSError:
                        pass
            except OSError:
                pass
            return got
        self.wait_until(lambda: links() >= n, timeout, what=f"{n} links")

    def stop(self, settle: float = 0.3, sig=signal.SIGINT, timeout: float = 20) -> list[str]:
        time.sleep(settle)
        if self.p.poll() is None:
            self.p.send_signal(sig)
        deadline = time.monotonic() + timeout * SLOW
        while any(fd >= 0 for fd in self._buf) and time.monotonic() < deadline:
            self._pump(0.1)
        # its output closed, it is exiting: detaching tracepoints waits for RCU grace
        # periods, which on a loaded machine can take over a second
        self.p.wait(timeout=max(10, deadline - time.monotonic()))
        for fd, rest in self._buf.items():
            if rest and fd == self.p.stdout.fileno():
                self.raw.append(rest)
                self.out.append(rest.decode(errors="replace"))
        assert self.p.returncode == 0, (self.p.returncode, self.err.decode(errors="replace"))
        return self.out

    def json(self) -> list[dict]:
        return [json.loads(x) for x in self.out if x.strip()]

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def run_tool(tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a tool to completion (interval and count given)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pybpf", tool, *args], capture_output=True,
                          text=True, timeout=timeout * SLOW, env=env)


def kprobes_missing_here(tool: str, *args: str) -> bool:
    """On a kernel without kprobes: check that ``tool args`` says so in one line, record
    the hook as absent (the kernel-matrix guest runs the real test) and return True."""
    from pybpf.features import Features
    from tests.vm import hook_absent
    if Features().has_kprobes():
        return False
    r = run_tool(tool, *args)
    assert r.returncode == 1 and "CONFIG_KPROBES" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    hook_absent()
    return True


# ---- what a run left loaded ----------------------------------------------------------

def prog_ids() -> set[int]:
    """The ids of every BPF program loaded now."""
    from pybpf import info
    return set(info.ids("prog"))


# execsnoop's programs as the kernel names them (at most 15 characters)
EXECSNOOP_PROGS = ("tp_enter_exec", "tp_exit_exec")


def prog_name(i: int) -> str:
    from pybpf import errors, info
    try:
        with info.fd_by_id("prog", i) as fd:
            return info.prog_info(fd.fileno()).name
    except (errors.PybpfError, OSError):
        return ""                      # gone meanwhile


def orphan_progs(before: set[int], names=EXECSNOOP_PROGS) -> set[int]:
    """execsnoop programs created since ``before`` that no process holds: what a run left
    loaded.  Only execsnoop's: the machine is shared, and another test's program (attached
    to a cgroup or a perf event with its fd closed, so held by no process) is none of this
    test's doing.  A program whose last fd just closed is freed after an RCU grace period,
    which a loaded machine can stretch past a second: give it up to 10 s."""
    from tests.conftest import _ids_held_by_other_processes
    deadline = time.monotonic() + 10
    while True:
        new = prog_ids() - before
        if new:
            new -= {i for k, i in _ids_held_by_other_processes() if k == "prog"}
        left = {i for i in new if prog_name(i).startswith(names)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def catches_sigterm(pid: int) -> bool:
    """True once process ``pid`` has a handler for SIGTERM (pybpf's, from its first lines;
    an example's own): a signal before it only kills the interpreter."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except OSError:
        pass
    return False
