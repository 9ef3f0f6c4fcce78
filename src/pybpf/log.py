"""pybpf's debug messages, like libbpf's print callback (``libbpf_set_print``): what the
loader and attach calls do (plan hits, maps and programs created, links made), for a
tool's ``-v`` flag.  Silent by default; ``PYBPF_DEBUG=1`` prints to stderr.

    pybpf.set_log(True)                               # stderr, debug and up
    pybpf.set_log(logging.getLogger("pybpf"))         # into logging (any .log(level, msg))
    pybpf.set_log(lambda level, msg: ..., level="info")
    pybpf.set_log(None)                               # silent again

Like libbpf's callback this is process-wide: messages come from deep inside loads.
"""

from __future__ import annotations

import os
import sys

__all__ = ["set_log", "debug", "info", "warn", "enabled"]

LEVELS = {"debug": 10, "info": 20, "warn": 30}


class _Sink:
    __slots__ = ("fn", "level")

    def __init__(self):
        self.fn = None
        self.level = 10


_sink = _Sink()


def set_log(target=True, *, level: str = "debug") -> None:
    """Send messages of ``level`` and above to ``target``: True for stderr, a callable
    ``(level_name, message)``, an object with ``.log(levelno, message)`` (a logging
    Logger), or None/False to silence them."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS, key=LEVELS.get)}")
    if target is None or target is False:
        fn = None
    elif target is True:
        def fn(lvl, msg):
            print(f"pybpf: {lvl}: {msg}", file=sys.stderr, flush=True)
    elif hasattr(target, "log") and not callable(target):
        def fn(lvl, msg, _log=target.log):
            _log(LEVELS[lvl], msg)
    elif callable(target):
        fn = target
    else:
        raise TypeError("set_log() takes True, None, a callable or a logger")
    _sink.fn, _sink.level = fn, LEVELS[level]


def enabled(level: str = "debug") -> bool:
    """Whether a message of ``level`` would go anywhere (to skip building costly ones)."""
    return _sink.fn is not None and LEVELS[level] >= _sink.level


def _emit(lvl: str, msg: str, args) -> None:
    if _sink.fn is not None and LEVELS[lvl] >= _sink.level:
        _sink.fn(lvl, msg % args if args else msg)


def debug(msg: str, *args) -> None:
    """A debug message (``%``-formatted with ``args`` only when someone listens)."""
    _emit("debug", msg, args)


def info(msg: str, *args) -> None:
    """An informational message (a skipped program, a fallback taken)."""
    _emit("info", msg, args)


def warn(msg: str, *args) -> None:
    """A warning."""
    _emit("warn", msg, args)


if os.environ.get("PYBPF_DEBUG"):
    set_log(True)
