"""tracefs: where it is, mounting it, and tracepoint ids."""

from __future__ import annotations

import os

from . import errors

TRACEFS = "/sys/kernel/tracing"
_LEGACY = "/sys/kernel/debug/tracing"
TRACEFS_MAGIC = 0x74726163


def root() -> str:
    """The mounted tracefs, mounting it at /sys/kernel/tracing when nothing is mounted."""
    for path in (TRACEFS, _LEGACY):
        if os.path.exists(os.path.join(path, "events")):
            return path
    from .bpffs import mount
    try:
        mount(TRACEFS, "tracefs", "tracefs")
    except errors.MissingPrivilegeError:
        raise                   # EPERM: the caller lacks privileges, tracefs may be fine
    except errors.KernelError as e:
        raise errors.NotSupportedError("tracefs", f"cannot mount tracefs at {TRACEFS}: {e}")
    return TRACEFS


def tracepoint_exists(category: str, name: str) -> bool:
    """Whether this kernel has tracepoint ``category:name`` (tracefs is mounted if it
    is not; its errors are raised)."""
    return os.path.isdir(os.path.join(root(), "events", category, name))


def tracepoint_id(category: str, name: str) -> int:
    """The perf event id of tracepoint ``category:name`` (NotFoundError if absent)."""
    path = os.path.join(root(), "events", category, name, "id")
    try:
        with open(path) as f:
            return int(f.read())
    except FileNotFoundError:
        raise errors.NotFoundError(2, "tracepoint", f"{category}:{name} does not exist "
                                   f"(see {root()}/available_events)") from None
