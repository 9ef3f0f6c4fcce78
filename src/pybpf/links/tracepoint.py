"""Tracepoints (BPF_PROG_TYPE_TRACEPOINT): a perf event on the tracepoint, with the
program attached to it."""

from __future__ import annotations

from .. import tracefs
from .._sys import perf, syscall
from ..fd import FD
from .base import Link, perf_event_link


def attach(prog, category: str, name: str, *, cookie: int = 0, via_ioctl: bool = False) -> Link:
    """Attach ``prog`` to tracepoint ``category:name`` (e.g. ``syscalls``, ``sys_enter_execve``).
    ``via_ioctl``: no bpf link (see perf_event_link), as bcc attaches."""
    tp_id = tracefs.tracepoint_id(category, name)
    pa = perf.PerfEventAttr(type=perf.TYPE_TRACEPOINT, config=tp_id, sample_period=1,
                            wakeup_events=1)
    # pid -1, cpu 0: one event that fires for every task on every CPU for tracepoints
    pfd = FD(syscall.perf_event_open(pa, -1, 0, -1, 1 << 3,  # PERF_FLAG_FD_CLOEXEC
                                     detail=f"tracepoint {category}:{name}"))
    return perf_event_link(prog, pfd, kind="tracepoint", target=f"{category}:{name}",
                           cookie=cookie, via_ioctl=via_ioctl)
