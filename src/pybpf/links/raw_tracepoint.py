"""Raw tracepoints (raw_tp) and BTF-typed ones (tp_btf)."""

from __future__ import annotations

import ctypes

from .._sys import attr, syscall
from .._sys.uapi import Cmd
from ..fd import FD
from .base import Link


def attach(prog, name: str | None = None) -> Link:
    """Attach a raw_tp program to tracepoint ``name`` (e.g. ``sched_switch``).

    tp_btf programs carry their target in attach_btf_id; pass ``name=None`` for them.
    """
    buf = ctypes.create_string_buffer(name.encode()) if name else None
    a = attr.RawTracepointOpen(name=ctypes.addressof(buf) if buf else 0, prog_fd=prog.fileno())
    fd = FD(syscall.bpf(Cmd.RAW_TRACEPOINT_OPEN, a, detail=f"raw tracepoint {name}"))
    return Link(fd, kind="raw_tp" if name else "tp_btf", target=name or prog.name)
