"""uprobes and uretprobes: a program on a user-space function (or any instruction) of a
binary, by symbol or file offset; one probe per perf event, or many in one uprobe_multi link."""

from __future__ import annotations

from .. import errors
from .libpath import resolve_path
from .base import Link, perf_event_link
from .perf_event import TracefsProbe, open_probe_pmu, pmu_type

TYPE_CHECKING = False
if TYPE_CHECKING:            # annotations only: typing costs the uprobe tools' start
    from typing import Sequence

__all__ = ["attach", "attach_multi", "resolve"]


def resolve(path: str, symbol: str | None = None, offset: int = 0) -> tuple[str, int]:
    """(real path, file offset) of ``symbol`` (+ ``offset``) in binary or library ``path``.

    ``symbol`` may carry an offset (``"func+0x10"``); with no symbol, ``offset`` is
    already a file offset.
    """
    real = resolve_path(path)
    if symbol:
        name, plus, extra = symbol.partition("+")
        from .elfcache import symbol_offset
        offset += symbol_offset(real, name) + (int(extra, 0) if plus else 0)
    return real, offset


def attach(prog, path: str, symbol: str | None = None, *, offset: int = 0,
           retprobe: bool = False, pid: int = -1, cookie: int = 0,
           ref_ctr_offset: int = 0) -> Link:
    """Attach kprobe-type ``prog`` to ``symbol`` in ``path`` (a binary, or a library name
    like ``"c"``): on entry, or on return with ``retprobe``.  ``pid`` >= 0 limits the probe
    to that process; ``ref_ctr_offset`` is a USDT semaphore's file offset."""
    real, off = resolve(path, symbol, offset)
    kind = "uretprobe" if retprobe else "uprobe"
    target = f"{real}:{symbol or ''}+{off:#x}" if symbol else f"{real}:{off:#x}"
    if pid >= 0:
        target += f" pid {pid}"
    if pmu_type("uprobe") is None:
        return _attach_legacy(prog, real, off, retprobe, pid, cookie, ref_ctr_offset,
                              kind, target, symbol or "")
    pfd = open_probe_pmu("uprobe", target=real.encode(), offset=off, retprobe=retprobe, pid=pid,
                         ref_ctr_offset=ref_ctr_offset, what=f"{kind} {target}")
    return perf_event_link(prog, pfd, kind=kind, target=target, cookie=cookie)


def _attach_legacy(prog, path: str, off: int, retprobe: bool, pid: int, cookie: int,
                   ref_ctr_offset: int, kind: str, target: str, hint: str) -> Link:
    """Kernels without the uprobe PMU (< 4.17): a tracefs uprobe_events entry."""
    spec = f"{path}:{off:#x}" + (f"({ref_ctr_offset:#x})" if ref_ctr_offset else "")
    try:
        probe = TracefsProbe("uprobe", spec, retprobe=retprobe, hint=hint or "uprobe")
    except errors.NotSupportedError:
        raise errors.NotSupportedError("uprobes", "no uprobe PMU and no tracefs "
                                       "uprobe_events (CONFIG_UPROBE_EVENTS)") from None
    try:
        pfd = probe.open(pid)
        link = perf_event_link(prog, pfd, kind=kind, target=target, cookie=cookie)
    except BaseException:
        probe.remove()
        raise
    return _own_probe(link, probe)


def _own_probe(link: Link, probe: TracefsProbe) -> Link:
    """Make ``link`` remove the tracefs probe on close, after its fds are closed (a probe
    with an open perf event cannot be removed)."""
    fds = ([link.fd] if link.fd is not None else []) + list(link._extra)
    link._extra = []

    def detach() -> None:
        for fd in fds:
            fd.close()
        probe.remove()
    link._detach = detach
    return link


def attach_multi(prog, path: str, symbols: str | Sequence[str] | None = None, *,
                 offsets: Sequence[int] | None = None, retprobe: bool = False, pid: int = -1,
                 cookies: Sequence[int] | None = None,
                 ref_ctr_offsets: Sequence[int] | None = None) -> Link:
    """Attach ``prog`` to many places of one binary in one uprobe_multi link (6.6+): see
    :func:`pybpf.links.uprobe_multi.attach`."""
    from . import uprobe_multi
    return uprobe_multi.attach(prog, path, symbols, offsets=offsets, retprobe=retprobe,
                               pid=pid, cookies=cookies, ref_ctr_offsets=ref_ctr_offsets)
