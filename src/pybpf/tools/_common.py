"""Helpers every tool shares: finding its BPF object, filters, output columns, signals."""

from __future__ import annotations

import os
import signal
import sys
import time

from .. import errors

# No pathlib, typing or json at the top: each costs a tool's start-up milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))


def tool_object(tool: str) -> bytes:
    """The compiled object of a tool: the one built into the package (wheel installs need
    no compiler), else compiled from its ``.bpf.c`` once and cached."""
    folder = os.path.join(TOOLS_DIR, tool)
    try:
        with open(os.path.join(folder, f"{tool}.bpf.o"), "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    from ..toolchain import compile as compile_c
    return compile_c(os.path.join(folder, f"{tool}.bpf.c"), includes=[folder])


def parse_uid(value: str) -> int:
    """A user given as a name or a number (for -u/--uid)."""
    if value.isdigit():
        return int(value)
    import pwd
    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        raise SystemExit(f"error: unknown user {value!r}") from None


def open_pinned_map(path: str, what: str):
    """A map pinned by the user (--cgroupmap/--mntnsmap), with a clear error if absent."""
    from ..maps import Map
    try:
        return Map.from_pin(path)
    except errors.NotFoundError:
        raise SystemExit(f"error: {what} {path!r}: no pinned map there") from None


def mntns_inum(pid: int | str = "self") -> int:
    """The mount namespace inode number of a process (what BPF reads as mnt_ns->ns.inum)."""
    return os.stat(f"/proc/{pid}/ns/mnt").st_ino


class Clock:
    """Turns the kernel's CLOCK_MONOTONIC event stamps into the tools' time columns."""

    def __init__(self):
        self.start_mono = time.monotonic_ns()
        self.offset = time.time_ns() - self.start_mono

    def hms(self, ts_ns: int) -> str:
        return time.strftime("%H:%M:%S", time.localtime((ts_ns + self.offset) / 1e9))

    def since_start(self, ts_ns: int) -> float:
        return (ts_ns - self.start_mono) / 1e9


class Output:
    """Line-oriented output, text or JSON lines; flushes per batch, not per line."""

    def __init__(self, stream: IO[str] | None = None, json_lines: bool = False):
        self.stream = stream or sys.stdout
        self.json = json_lines
        self.interactive = self.stream.isatty()

    def header(self, text: str) -> None:
        if not self.json:
            self.stream.write(text + "\n")
            self.stream.flush()

    def row(self, text: str, record: dict[str, Any]) -> None:
        if self.json:
            import json
            self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        else:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise SystemExit(0)


class Stop(Exception):
    """Raised from a signal handler to leave the event loop cleanly."""


def stop_on_signals() -> None:
    """Make SIGINT and SIGTERM end the event loop, so ``with`` blocks detach everything."""
    def handler(signum, frame):
        raise Stop(signum)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def warn(tool: str, msg: str) -> None:
    print(f"{tool}: {msg}", file=sys.stderr, flush=True)
