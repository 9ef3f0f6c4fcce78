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
