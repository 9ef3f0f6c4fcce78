"""Read ``bpf_printk``/``bpf_trace_printk`` output from tracefs's trace_pipe, parsed."""

from __future__ import annotations

import os
import re
import select
from dataclasses import dataclass
from typing import Iterator

from . import tracefs

# "<comm>-<pid> [(<tgid>)] [<cpu>] <flags> <seconds>: [bpf_trace_printk: ]<message>"
_LINE = re.compile(r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
                   r"(?:(?P<flags>\S{4,5})\s+)?(?P<ts>\d+\.\d+):\s+(?:bpf_trace_printk:\s)?"
                   r"(?P<msg>.*)$")


@dataclass(frozen=True)
class TraceLine:
    task: str
    pid: int
    cpu: int
    flags: str
    ts: float
    msg: str


def parse(line: str) -> TraceLine | None:
    """A trace_pipe line as fields, or None for lines that are not events (e.g. lost notes)."""
    m = _LINE.match(line.rstrip("\n"))
    if not m:
        return None
    return TraceLine(m["task"], int(m["pid"]), int(m["cpu"]), m["flags"] or "", float(m["ts"]),
                     m["msg"])


class TracePipe:
    """An open trace_pipe: ``lines(timeout)`` yields raw lines, ``events()`` parsed ones.

    trace_pipe is consuming and global: every reader on the machine competes for the same
    lines, so tests and tools should filter on something they printed themselves.
    """

    def __init__(self):
        path = os.path.join(tracefs.root(), "trace_pipe")
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            # recent kernels let one process read trace_pipe at a time (EBUSY)
            from .errors import KernelError
            raise KernelError(e.errno, "trace_pipe", f"cannot open {path}" + (
                ": another process is reading it (one reader at a time)"
                if e.errno == 16 else "")) from None
        self._buf = b""

    def lines(self, timeout: float | None = None) -> Iterator[str]:
        """Yield complete lines available within ``timeout`` seconds (None: wait forever)."""
        while True:
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                yield line.decode(errors="replace")
            r, _, _ = select.select([self._fd], [], [], timeout)
            if not r:
                return
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return
            self._buf += chunk

    def events(self, timeout: float | None = None) -> Iterator[TraceLine]:
        for line in self.lines(timeout):
            ev = parse(line)
            if ev is not None:
                yield ev

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "TracePipe":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
