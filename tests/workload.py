"""Children that do a known amount of work when told to (after the tool is ready)."""

from __future__ import annotations

import subprocess
import sys


class Child:
    """A python child running ``code`` once a line arrives on its stdin.  The constructor
    returns once the child has started up and waits (its start-up's own syscalls are
    done before any tool is started)."""

    def __init__(self, code: str):
        self.p = subprocess.Popen([sys.executable, "-c", "import sys\nprint('ready', flush=True)\n"
                                   "sys.stdin.readline()\n" + code],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.p.pid
        assert self.p.stdout.readline() == "ready\n"

    def go(self, timeout: float = 30) -> str:
        out, _ = self.p.communicate("go\n", timeout=timeout)
        assert self.p.returncode == 0
        return out


class PtyBash:
    """An interactive bash on a pty (what bashreadline traces), as a context manager:
    ``type(line)`` sends a line and drains the echo; leaving it types ``exit`` and reaps
    it (killed if it does not end)."""

    def __init__(self, **env):
        import os
        import pty
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            ["bash", "--norc", "--noprofile", "-i"], stdin=slave, stdout=slave,
            stderr=slave, start_new_session=True,
            env={"PATH": os.environ["PATH"], "TERM": "dumb", "HOME": "/", **env})
        os.close(slave)
        self.pid = self.proc.pid

    def type(self, line: bytes) -> None:
        import os
        import time
        os.write(self.master, line + b"\n")
        time.sleep(0.05)
        try:
            os.read(self.master, 65536)     # keep the pty drained
        except OSError:
            pass

    def __enter__(self) -> "PtyBash":
        return self

    def __exit__(self, *exc) -> None:
        import os
        try:
            if exc[0] is None:
                os.write(self.master, b"exit\n")
                self.proc.wait(timeout=10)
        finally:
            self.proc.kill()
            self.proc.wait()
            os.close(self.master)
