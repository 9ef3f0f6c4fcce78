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


def tool_object(tool: str) -> tuple[bytes, str | None]:
    """The compiled object of a tool, and an identity of it that names its load plan
    (None: hash the bytes).  The object is the one built into the package (wheel installs
    need no compiler), else compiled from its ``.bpf.c`` once and cached."""
    folder = os.path.join(TOOLS_DIR, tool)
    try:
        with open(os.path.join(folder, f"{tool}.bpf.o"), "rb") as f:
            st = os.fstat(f.fileno())
            from .._hash import sha256
            ident = f"built|{f.name}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
            return f.read(), sha256(ident.encode()).hexdigest()
    except FileNotFoundError:
        pass
    from ..cache import Cache, CacheError
    try:
        cache = Cache.default()
        memo = _source_memo_key(folder, tool)
        obj = cache.get(memo)
    except (CacheError, OSError):
        cache = memo = obj = None
    if obj is not None:
        return obj, memo
    from ..toolchain import compile as compile_c
    obj = compile_c(os.path.join(folder, f"{tool}.bpf.c"), includes=[folder])
    if memo is not None:
        try:
            cache.put(memo, obj)
        except (CacheError, OSError):
            memo = None
    return obj, memo


def _source_memo_key(folder: str, tool: str) -> str:
    """A key naming a tool's compiled object by its own files' identities (inode, size,
    times) and the running kernel, so a warm start skips even the compile cache's checks
    (finding clang, hashing headers).  Edits of the tool's files or a new kernel miss;
    the compile cache proper still guards everything else on a miss."""
    from .. import __version__
    from .._hash import sha256
    from ..kernelid import kernel_key
    h = sha256(f"pybpf-tool|{__version__}|{tool}|{kernel_key()}".encode())
    # the tool's own files, then the headers all tools share (tools/_common.bpf.h)
    paths = [os.path.join(folder, n) for n in sorted(os.listdir(folder))
             if n.endswith((".bpf.c", ".h"))]
    paths += [os.path.join(TOOLS_DIR, n) for n in sorted(os.listdir(TOOLS_DIR))
              if n.endswith(".h")]
    for path in paths:
        name = os.path.relpath(path, TOOLS_DIR)
        st = os.stat(path)
        h.update(f"|{name}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
                 .encode())
    return h.hexdigest()


def help_formatter():
    """argparse's RawDescriptionHelpFormatter, sized without importing shutil (argparse
    builds a formatter for every add_argument; shutil costs a tool's start ~2 ms)."""
    import argparse

    class Formatter(argparse.RawDescriptionHelpFormatter):
        def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
            if width is None:
                try:
                    width = int(os.environ.get("COLUMNS", "")) - 2
                except ValueError:
                    try:
                        width = os.get_terminal_size(sys.stdout.fileno()).columns - 2
                    except (OSError, ValueError):
                        width = 78
            super().__init__(prog, indent_increment, max_help_position, width)
    return Formatter


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


class DropReporter:
    """Says on stderr how many events a tool's BPF side could not deliver (a per-CPU u64
    counter at key 0), reading it at most every ``interval`` seconds: under an event storm
    a read per wake-up would cost a syscall per event."""

    def __init__(self, tool: str, counter_map, interval: float = 0.5):
        self.tool, self.map, self.interval = tool, counter_map, interval
        self.seen = 0
        self.next = 0.0

    def check(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self.next:
            return
        self.next = now + self.interval
        lost = sum(int.from_bytes(c, "little") for c in self.map[0])
        if lost > self.seen:
            warn(self.tool, f"lost {lost - self.seen} events")
            self.seen = lost


def warn(tool: str, msg: str) -> None:
    print(f"{tool}: {msg}", file=sys.stderr, flush=True)
