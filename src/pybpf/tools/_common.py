"""Helpers every tool shares: finding its BPF object, filters, output columns, signals,
and the command-line conventions of every ``pybpf`` command.

The conventions (``pybpf`` applies them to every tool and command through
:func:`run_main`; a tool only has to use the pieces below):

- bad argument values are refused by argparse in one line, exit 2: build the parser with
  :class:`ArgumentParser` and type options with :func:`uid_arg`, :func:`pid_arg`,
  :func:`int_range`, :func:`regex_arg`, :func:`text_arg`;
- a :class:`~pybpf.errors.PybpfError` ends the command with ``pybpf <cmd>: error: ...``
  (one line; compile and verifier errors add their diagnostics below it), exit 1;
- SIGINT/SIGTERM raise :class:`Stop` from the moment ``pybpf`` starts.  A tool's event loop
  catches it and ends tracing cleanly, exit 0 (as bcc's tools end on Ctrl-C); anywhere else
  (start-up, compiling, loading) it unwinds every ``with`` block and exits 128+signal
  (130 for SIGINT, 143 for SIGTERM);
- a closed stdout (``pybpf <tool> | head -1``) ends the command quietly with 141, the status
  a shell sees for a C tool killed by SIGPIPE;
- tools call :func:`require_privileges` before compiling or loading anything.
"""

from __future__ import annotations

import os
import _signal as signal  # signal.py adds enums: ~0.5 ms of a start
import sys
import time

from .. import errors, interrupts, options

# No pathlib, typing or json at the top: each costs a tool's start-up milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))


def tool_object(tool: str, folder: str | None = None) -> tuple[bytes, str | None]:
    """The compiled object of a tool, and an identity of it that names its load plan
    (None: hash the bytes).  The object is the one built into the package (wheel installs
    need no compiler), else compiled from its ``.bpf.c`` once and cached.  ``folder``:
    where ``<tool>.bpf.c`` lives when not in ``tools/<tool>/`` (e.g. ``pybpf/net``)."""
    from ..bundled import bundled_object
    # tools share headers one folder up (tools/_common.bpf.h): they name the object too
    return bundled_object(folder or os.path.join(TOOLS_DIR, tool), tool,
                          shared_dirs=(TOOLS_DIR,))


def tool_source(tool: str) -> tuple:
    """``(read, identity)`` of a tool's object without reading it (see
    :func:`pybpf.bundled.bundled_source`): ``pybpf.load(read, cache_key=identity)``
    replays the tool's plan and reads the object only when there is none."""
    from ..bundled import bundled_source
    return bundled_source(os.path.join(TOOLS_DIR, tool), tool, shared_dirs=(TOOLS_DIR,))


def package_object(folder: str, name: str) -> tuple[bytes, str | None]:
    """The compiled ``folder/<name>.bpf.c`` of a pybpf package folder (see
    :func:`pybpf.bundled.bundled_object`)."""
    from ..bundled import bundled_object
    return bundled_object(folder, name)


HASH_TYPES = (1, 9)          # BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH


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


def raw_text(b: bytes) -> str:
    """A name from the kernel (path, argv, comm) as text that keeps bytes which are not
    UTF-8: Output writes them back as they were in text rows, and as U+FFFD in JSON."""
    return b.decode(errors="surrogateescape")


def cstr(b: bytes) -> str:
    """A NUL-terminated name from an event or a map key (comm, path, mount source,
    readline) as :func:`raw_text`: every tool prints such names the same way."""
    return b.split(b"\0", 1)[0].decode(errors="surrogateescape")


def proc_comm(pid: int | str) -> str:
    """/proc/PID/comm as :func:`raw_text` ("" once the process has gone): a name set
    with prctl(PR_SET_NAME) may be any bytes."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return raw_text(f.read().rstrip(b"\n"))
    except OSError:
        return ""


def _json_unsurrogate(line: str) -> str:
    """JSON text with the escaped lone surrogates of raw_text()'s undecodable bytes
    (\\udc80-\\udcff, not preceded by an escaping backslash) as U+FFFD: JSON stays
    valid Unicode for every reader."""
    import re
    return re.sub(r"(?<!\\)((?:\\\\)*)\\udc[89a-f][0-9a-f]", r"\1\\ufffd", line)


class Output:
    """Line-oriented output, text or JSON lines; flushes per batch, not per line."""

    def __init__(self, stream: IO[str] | None = None, json_lines: bool = False):
        self.stream = stream or sys.stdout
        self.json = json_lines
        self.interactive = self.stream.isatty()
        # names decoded by raw_text() carry undecodable bytes as surrogates: text rows
        # give them back as the bytes they were (bcc prints names as raw bytes)
        if not json_lines and getattr(self.stream, "errors", None) == "strict" and \
                hasattr(self.stream, "reconfigure"):
            self.stream.reconfigure(errors="surrogateescape")

    # Each write holds off Stop (see hold_stop): a signal that interrupted a write stuck on
    # a full pipe would raise out of the buffered writer and lose the rows in its buffer.

    def header(self, text: str) -> None:
        from ..startbundle import ready
        ready()                 # attached: the start is over (what its bundle holds)
        if not self.json:
            with hold_stop:
                self.stream.write(text + "\n")
                self.stream.flush()

    def row(self, text: str, record: dict[str, Any]) -> None:
        with hold_stop:
            if self.json:
                import json
                line = json.dumps(record, separators=(",", ":"))
                if "\\udc" in line:
                    line = _json_unsurrogate(line)
                self.stream.write(line + "\n")
            else:
                self.stream.write(text + "\n")

    def flush(self) -> None:
        # a closed pipe raises BrokenPipeError, which run_main turns into a quiet exit
        with hold_stop:
            self.stream.flush()


class Stop(KeyboardInterrupt):
    """Raised by the SIGINT/SIGTERM handlers: a tool's event loop catches it to end tracing
    (exit 0); elsewhere it ends the command with 128+signal.  A KeyboardInterrupt, so no
    ``except Exception`` swallows it, and neither does CPython where it spares only
    KeyboardInterrupt: compile()'s constant folding clears any other error a signal
    handler raised while it multiplied big ints (``2 ** 53``: a module compiled at start,
    as every one is without bytecode files, lost the Stop silently)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = signum

    def raise_again(self) -> None:
        """Raise it anew (pybpf.interrupts, after CPython dropped it in a finalizer)."""
        _deliver(self.signum)


# [depth, pending signal]: while depth > 0 (inside an output write) a signal is held and
# raised when the write is done.  Module-level because signal dispositions are process-wide.
# A second signal while one is held raises at once: a reader that never drains the pipe
# cannot keep the tool alive.
_stop_gate: list = [0, None]


# the last SIGINT/SIGTERM this command received, kept after its Stop is raised: the event
# loops' backstop (raise_if_stopped, sleep_until_stopped) for a Stop lost where no hook
# sees it (C code that clears any error but KeyboardInterrupt's, as compile() does, is
# covered by Stop's class); the known ways to lose one are closed below
_stop_seen: list = [None]


# Where a Stop was lost (pybpf/interrupts.py): raised by the handler inside importlib's
# module-lock weakref callback, which runs as nearly every import ends (a tool's start
# imports lazily all along), or in another finalizer, CPython printed it and dropped it,
# and the tool went on tracing for good (CI: execsnoop after a SIGTERM, softirqs after a
# ^C).  The handler raises after that callback instead, and a Stop dropped anyway is
# raised again at the next call (interrupts.catch_dropped, while the handlers are in).

def _raise_stop(signum, frame):
    _stop_seen[0] = signum
    if interrupts.in_import_callback(frame):
        # let importlib's callback finish (and release the import lock) first
        interrupts.raise_later(lambda: _deliver(signum), frame.f_code)
        return
    _deliver(signum)


def _deliver(signum: int) -> None:
    """Raise Stop(signum), or hold it while an output write is under way."""
    if _stop_gate[0] and _stop_gate[1] is None:
        _stop_gate[1] = signum      # the interrupted write resumes (PEP 475)
        return
    _stop_gate[1] = None
    raise Stop(signum)


def raise_if_stopped() -> None:
    """Raise :class:`Stop` if a SIGINT/SIGTERM has been seen (see :data:`_stop_seen`):
    an event loop calls it between polls, so a Stop lost on the way cannot keep it going."""
    if _stop_seen[0] is not None:
        raise Stop(_stop_seen[0])


def sleep_until_stopped(seconds: float) -> None:
    """``time.sleep(seconds)`` that raises :class:`Stop` as soon as a SIGINT/SIGTERM has
    been seen, even one whose own Stop was swallowed: it wakes once a second to look."""
    import time
    end = time.monotonic() + seconds
    while True:
        raise_if_stopped()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 1.0))


def _stop_gate_leave() -> None:
    _stop_gate[0] -= 1
    if not _stop_gate[0] and _stop_gate[1] is not None:
        signum, _stop_gate[1] = _stop_gate[1], None
        raise Stop(signum)


class _HoldStop:
    """``with hold_stop:`` holds a SIGINT/SIGTERM that arrives inside the block and raises
    its :class:`Stop` when the block ends (at once for a second signal).  For work that must
    not be cut in half: an output write, or showing a record already taken off a ring
    buffer (it is consumed once yielded; a Stop in the middle would lose it)."""

    __slots__ = ()

    def __enter__(self) -> None:
        _stop_gate[0] += 1

    def __exit__(self, *exc) -> None:
        _stop_gate_leave()


hold_stop = _HoldStop()


def stop_on_signals(old: dict | None = None) -> dict:
    """Make SIGINT and SIGTERM raise :class:`Stop`, so ``with`` blocks detach everything,
    and install the hook that keeps a Stop from being lost in a finalizer; returns the
    previous handlers (for :func:`restore_signals`).  ``old``: the dict to fill, entry
    by entry before each change, so a signal in the middle leaves it complete."""
    old = {} if old is None else old
    prev = interrupts.catch_dropped()
    if prev is not None:
        old["unraisablehook"] = prev
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sig not in old:
            old[sig] = signal.getsignal(sig)
        signal.signal(sig, _raise_stop)
    return old


def restore_signals(old: dict) -> None:
    for sig, handler in old.items():
        if sig == "unraisablehook":
            continue
        try:
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        except ValueError:      # not the main thread: stop_on_signals changed nothing
            pass
    interrupts.release_dropped(old.get("unraisablehook"))


CLOSED_PIPE = 141       # 128 + SIGPIPE: what a shell sees when a C tool's reader goes away


def run_main(prog: str, main, argv: list[str], signalled=()) -> int:
    """Run ``main(argv)`` under the conventions above and return the exit status.

    ``pybpf`` calls this for every command and tool, first thing; a tool's own ``main``
    needs no signal, pipe or error handling of its own: it lets BrokenPipeError and
    :class:`Stop` through.  stdout is flushed here (also before a SystemExit, such as
    argparse's after ``-h``): at the interpreter's exit a closed pipe could only print
    "Exception ignored" and end with 120.  ``signalled``: signals seen before (``python
    -m pybpf``'s own early handler records them), each as good as one arriving now."""
    _stop_gate[:] = [0, None]
    _stop_seen[0] = None
    old: dict = {}
    try:
        try:
            # inside the try: a signal the moment a handler is in place is a Stop too
            stop_on_signals(old)
        except ValueError:      # not the main thread (an embedding program): no handlers
            pass
        for signum in signalled:
            # its SystemExit was lost (raised inside an import's callback, say)
            _stop_seen[0] = signum
            raise Stop(signum)
        try:
            status = main(argv) or 0
        except SystemExit:
            _flush_stdout()
            from ._pipes import reader_gone
            if reader_gone():
                # argparse (3.11.4 on) swallows the error of writing its help into a
                # closed pipe and exits 0: end as every other write into it does
                from ._pipes import closed_pipe
                return closed_pipe()
            raise                           # its own status, once the output is out
        _flush_stdout()
        return status
    except Stop as e:
        return 128 + e.signum
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        from ._pipes import closed_pipe
        return closed_pipe()
    except errors.PybpfError as e:
        text = str(e).strip() or type(e).__name__
        print(f"{prog}: error: {text}", file=sys.stderr)
        return 1
    finally:
        restore_signals(old)


def _flush_stdout() -> None:
    """Flush stdout; raises BrokenPipeError when its reader is gone (a closed or missing
    stdout is no error here)."""
    try:
        sys.stdout.flush()
    except (ValueError, AttributeError):
        pass


def require_privileges(what: str = "loading BPF programs") -> None:
    """Refuse to go on without the capabilities BPF tracing needs (CAP_BPF with
    CAP_PERFMON, or CAP_SYS_ADMIN), before anything is compiled, cached or loaded."""
    from ..caps import require_bpf
    require_bpf(what)


# --- argument types: each refuses a bad value in one argparse line ---

UID_MAX = 4294967294        # (uid_t)-1 means "no change" to the kernel, never a user
PID_MAX = 4194304           # PID_MAX_LIMIT on 64-bit kernels


def _arg_error(msg: str):
    import argparse
    return argparse.ArgumentTypeError(msg)


def int_range(lo: int, hi: int, what: str = "a number"):
    """An argparse ``type`` accepting a decimal integer in lo..hi."""
    def parse(value: str) -> int:
        v = value.strip()
        if not (v.isdigit() or (v[:1] == "-" and v[1:].isdigit())) or not v.isascii():
            raise _arg_error(f"{value!r} is not {what} (an integer from {lo} to {hi})")
        n = int(v)
        if not lo <= n <= hi:
            raise _arg_error(f"{value} is out of range for {what} ({lo} to {hi})")
        return n
    parse.__name__ = what
    return parse


def uid_arg(value: str) -> int:
    """A user as a number (0..4294967294) or a name (for -u/--uid)."""
    if value.strip().isdigit():
        return int_range(0, UID_MAX, "a user id")(value)
    text_arg(value)
    import pwd
    try:
        return pwd.getpwnam(value).pw_uid
    except (KeyError, ValueError):
        raise _arg_error(f"unknown user {value!r}") from None


parse_uid = uid_arg          # the older name

pid_arg = int_range(1, PID_MAX, "a process id")
pid_arg.__doc__ = "A process id, 1..4194304 (for -p/--pid, -P/--ppid)."


def pid_list(value: str) -> list:
    """Comma-separated process (or thread) ids, as bcc's profile -p/-L take them."""
    ids = [pid_arg(v) for v in value.split(",")]
    return list(dict.fromkeys(ids))


def text_arg(value: str) -> str:
    """Text that must be valid UTF-8 (argv bytes that are not arrive as surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _arg_error(f"{os.fsencode(value)!r} is not valid UTF-8") from None
    return value


def regex_arg(value: str):
    """A regular expression compiled over bytes (comm and argv are bytes, not text): any
    argument, UTF-8 or not, matches the bytes the user typed."""
    import re
    try:
        return re.compile(os.fsencode(value))
    except re.error as e:
        raise _arg_error(f"bad regular expression {value!r}: {e}") from None


class ArgumentParser(options.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one line (exit 2) and whose help
    uses :func:`~pybpf.tools._argparse.help_formatter`; use it instead of argparse's for
    every tool.  It is built on first need (:mod:`pybpf.options`): an empty or plain
    command line imports no argparse."""

    def make_parser(self, *args, **kwargs):
        from ._argparse import parser_class
        return parser_class()(*args, **kwargs)


class DropReporter:
    """Says on stderr, once per change, how many events a tool's BPF side could not
    deliver (``lost N events``: a per-CPU u64 counter at key 0) and how many hook hits the
    kernel did not run ``programs`` for (``missed N events``: see
    :func:`pybpf.info.prog_misses`) and, given ``unseen`` (cpudist, runqlat, offcputime: a
    per-CPU [timed, untimed] pair each, _unseen.bpf.h), the off-CPU stretches whose end
    (on-CPU runs whose start) no program saw, reading them at most every ``interval``
    seconds: under an event storm a read per wake-up would cost a syscall per event."""

    def __init__(self, tool: str, counter_map, interval: float = 0.5, programs=(),
                 unseen=None, stretches: str = "off-CPU stretches"):
        self.tool, self.map, self.interval = tool, counter_map, interval
        self.programs = list(programs)
        self.seen = self.missed = 0
        self.next = 0.0
        # the off-CPU tools' count of stretches whose end no program saw (_unseen.bpf.h)
        self.unseen, self.timed, self.untimed = unseen, [0, 0], [0, 0]
        self.stretches = stretches      # what they are (runqlat: "run-queue waits")

    def check(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self.next:
            return
        self.next = now + self.interval
        lost = sum(int.from_bytes(c, "little") for c in self.map[0])
        if lost > self.seen:
            warn(self.tool, f"lost {lost - self.seen} events")
            self.seen = lost
        if self.programs:
            from ..info import prog_misses
            missed = sum(prog_misses(p.fileno()) for p in self.programs)
            if missed > self.missed:
                warn(self.tool, f"missed {missed - self.missed} events (the kernel skipped "
                     "our BPF programs while another ran on the same CPU)")
                self.missed = missed
        if self.unseen is not None:
            self._check_unseen()

    def _check_unseen(self) -> None:
        # [0, 1]: off-CPU stretches whose end no program saw, timed and lost; [2, 3]:
        # on-CPU runs (cpudist) whose start none saw
        counts = [sum(int.from_bytes(c, "little") for c in self.unseen[k])
                  for k in range(4)]
        for k, (what, when) in enumerate(((self.stretches, "ended"),
                                          ("on-CPU runs", "began"))):
            timed, untimed = counts[2 * k:2 * k + 2]
            if timed > self.timed[k]:
                warn(self.tool, f"{timed - self.timed[k]} {what} {when} at a switch the "
                     "kernel ran no BPF program for; timed from the task's run time")
                self.timed[k] = timed
            if untimed > self.untimed[k]:
                warn(self.tool, f"lost {untimed - self.untimed[k]} {what} ({when} at a "
                     "switch the kernel ran no BPF program for)")
                self.untimed[k] = untimed


def warn(tool: str, msg: str) -> None:
    print(f"{tool}: {msg}", file=sys.stderr, flush=True)


# Helpers only an unusual run needs (help, a bad argument, a pinned filter map, a closed
# pipe) live in modules of their own, loaded on first use; still importable from here.
_LATER = {"help_formatter": "_argparse", "open_pinned_map": "_pinned",
          "closed_pipe": "_pipes", "silence_stdout": "_pipes"}


def __getattr__(name: str):
    mod = _LATER.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(__import__(f"{__package__}.{mod}", fromlist=[name]), name)
