"""kprobes and kretprobes on kernel functions (kprobe PMU, else tracefs kprobe_events),
syscall entry points by syscall name, and kprobe.multi links (fprobe) over a glob."""

from __future__ import annotations

import ctypes
import errno as _errno
import os
from typing import Sequence

from .. import errors
from .._sys import attr
from .._sys.uapi import AttachType
from . import symbols as _symbols
from .base import Link, link_create, perf_event_link
from .perf_event import TracefsProbe, open_probe_pmu, pmu_type
from .uprobe import _own_probe

__all__ = ["attach", "attach_multi", "syscall_function", "available"]

F_KPROBE_MULTI_RETURN = 1        # BPF_F_KPROBE_MULTI_RETURN
NO_KPROBES = ("this kernel was built without CONFIG_KPROBES (no kprobe PMU in "
              "/sys/bus/event_source/devices, no kprobe_events in tracefs)")
_TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
_GLOB = set("*?[")


def _kprobe_events() -> bool:
    return any(os.path.exists(os.path.join(r, "kprobe_events")) for r in _TRACEFS_ROOTS)


def available() -> bool:
    """Kprobes can be created here (the kprobe PMU or tracefs kprobe_events exists)."""
    return pmu_type("kprobe") is not None or _kprobe_events()


def syscall_function(name: str) -> str:
    """The kernel function behind syscall ``name`` ("openat" -> "__x64_sys_openat").

    Kernels since 4.17 wrap syscalls per architecture; older ones name them sys_<name>.
    """
    candidates = [_symbols.syscall_prefix() + name, f"sys_{name}"]
    found = _symbols.kallsyms_lookup(set(candidates))
    for c in candidates:
        if c in found:
            return c
    raise errors.NotFoundError(_errno.ENOENT, "ksyscall", f"syscall {name!r}: none of "
                               f"{', '.join(candidates)} is in /proc/kallsyms")


def _not_found_or(e: errors.KernelError, func: str) -> errors.KernelError:
    """A clearer error when the kernel refused because ``func`` does not exist."""
    if e.errno in (_errno.ENOENT, _errno.EINVAL, _errno.EADDRNOTAVAIL) and \
            not isinstance(e, errors.MissingPrivilegeError):
        name = func.split(":")[-1]     # module:function
        if name not in _symbols.kallsyms_lookup({name}):
            return errors.NotFoundError(_errno.ENOENT, "kprobe",
                                        f"kernel function {name!r} not found in /proc/kallsyms")
    return e


def attach(prog, func: str, *, offset: int = 0, retprobe: bool = False, syscall: bool = False,
           cookie: int = 0, via_ioctl: bool = False, maxactive: int = 0) -> Link:
    """Attach kprobe-type ``prog`` to kernel function ``func`` (+ ``offset``), on entry or
    (``retprobe``) on return; ``syscall=True`` takes a syscall name ("openat").
    ``via_ioctl``: no bpf link (see perf_event_link), as bcc attaches.  ``maxactive``:
    how many calls a kretprobe follows at once (the kernel's default is per CPU count);
    only tracefs kprobe_events takes it, so it is made there, as bcc does."""
    if not available():
        raise errors.NotSupportedError("kprobes", NO_KPROBES)
    if syscall:
        func = syscall_function(func)
    kind = "kretprobe" if retprobe else "kprobe"
    target = f"{func}+{offset:#x}" if offset else func
    if pmu_type("kprobe") is None or (maxactive and retprobe and _kprobe_events()):
        return _attach_legacy(prog, func, offset, retprobe, cookie, kind, target, via_ioctl,
                              maxactive if retprobe else 0)
    try:
        pfd = open_probe_pmu("kprobe", target=func.encode(), offset=offset, retprobe=retprobe,
                             pid=-1, what=f"{kind} {target}")
    except errors.KernelError as e:
        raise _not_found_or(e, func) from None
    return perf_event_link(prog, pfd, kind=kind, target=target, cookie=cookie,
                           via_ioctl=via_ioctl)


def _attach_legacy(prog, func: str, offset: int, retprobe: bool, cookie: int, kind: str,
                   target: str, via_ioctl: bool = False, maxactive: int = 0) -> Link:
    """No kprobe PMU (kernels before 4.17), or a kretprobe's maxactive: a tracefs
    kprobe_events entry."""
    try:
        probe = TracefsProbe("kprobe", target, retprobe=retprobe, hint=func,
                             maxactive=maxactive)
    except errors.KernelError as e:
        raise _not_found_or(e, func) from None
    try:
        pfd = probe.open(-1)
        link = perf_event_link(prog, pfd, kind=kind, target=target, cookie=cookie,
                               via_ioctl=via_ioctl)
    except BaseException:
        probe.remove()
        raise
    return _own_probe(link, probe)


def attach_multi(prog, pattern: str | Sequence[str], *, retprobe: bool = False,
                 cookies: Sequence[int] | None = None) -> Link:
    """Attach ``prog`` to every kernel function matching glob ``pattern`` (or a list of
    names) in one kprobe.multi link (5.18+, CONFIG_FPROBE).  The program must be loaded
    with expected_attach_type TRACE_KPROBE_MULTI."""
    if isinstance(pattern, str):
        names = _symbols.filter_functions(pattern) if _GLOB & set(pattern) else [pattern]
    else:
        names = list(pattern)
    if not names:
        from ..features import Features
        if not Features().has_kprobe_multi():
            raise errors.NotSupportedError("kprobe.multi", "this kernel takes no kprobe.multi "
                                           "links (needs 5.18+ with CONFIG_FPROBE)")
        raise errors.NotFoundError(_errno.ENOENT, "kprobe.multi",
                                   f"no traceable kernel function matches {pattern!r}")
    if cookies is not None and len(cookies) != len(names):
        raise ValueError(f"{len(cookies)} cookies for {len(names)} functions")
    bufs = [ctypes.create_string_buffer(n.encode()) for n in names]
    syms = (ctypes.c_uint64 * len(names))(*(ctypes.addressof(b) for b in bufs))
    cookie_arr = (ctypes.c_uint64 * len(names))(*cookies) if cookies else None
    km = attr._LinkTarget._KprobeMulti(
        flags=F_KPROBE_MULTI_RETURN if retprobe else 0, cnt=len(names),
        syms=ctypes.addressof(syms), cookies=ctypes.addressof(cookie_arr) if cookie_arr else 0)
    what = pattern if isinstance(pattern, str) else f"{len(names)} functions"
    try:
        fd = link_create(prog.fileno(), 0, AttachType.TRACE_KPROBE_MULTI,
                         what=f"kprobe.multi {what}", feature="kprobe.multi", kprobe_multi=km)
    except errors.NotSupportedError as e:
        raise errors.NotSupportedError(
            "kprobe.multi", "the kernel refused kprobe.multi links (needs 5.18+ with "
            f"CONFIG_FPROBE): {e.reason}", e.errno, e.op) from None
    except errors.KernelError as e:
        # kernels before 5.18 do not know the attach type and say only EINVAL
        if e.errno == _errno.EINVAL:
            from ..features import Features
            if not Features().has_kprobe_multi():
                raise errors.NotSupportedError("kprobe.multi", "BPF_LINK_CREATE does not take "
                                               "kprobe.multi links (needs 5.18+ with "
                                               "CONFIG_FPROBE)", e.errno, e.op) from None
        raise
    return Link(fd, kind="kretprobe_multi" if retprobe else "kprobe_multi",
                target=f"{what} ({len(names)} functions)")
