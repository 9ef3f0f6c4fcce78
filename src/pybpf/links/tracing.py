"""BTF-targeted programs: fentry/fexit/fmod_ret, LSM and tp_btf.  Their target is fixed at
load time (attach_btf_id), so attaching needs nothing but the program."""

from __future__ import annotations

import errno as _errno

from .. import errors
from .._sys import attr, syscall
from .._sys.uapi import AttachType, Cmd, ProgType
from ..fd import FD
from .base import Link, link_create

__all__ = ["attach"]

ENOTSUPP = 524
LSM_LIST = "/sys/kernel/security/lsm"
_KIND = {
    AttachType.TRACE_FENTRY: "fentry", AttachType.TRACE_FEXIT: "fexit",
    AttachType.MODIFY_RETURN: "fmod_ret", AttachType.LSM_MAC: "lsm",
    AttachType.TRACE_RAW_TP: "tp_btf", AttachType.TRACE_ITER: "iter",
}
_TRAMPOLINE = (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN,
               AttachType.LSM_MAC)


def _attach_type(prog) -> int | None:
    """The program's expected attach type, from its spec (LSM programs: always LSM_MAC)."""
    spec = getattr(prog, "spec", None)
    if spec is not None and spec.expected_attach_type:
        return int(spec.expected_attach_type)
    if prog.type == ProgType.LSM:
        return AttachType.LSM_MAC
    return None


def _unsupported(kind: str, e: errors.KernelError) -> errors.NotSupportedError:
    return errors.NotSupportedError(
        f"{kind} (BPF trampolines)", f"the kernel refused to attach a {kind} program "
        f"({_errno.errorcode.get(e.errno, e.errno)}): it lacks trampoline support (e.g. no "
        "ftrace direct calls, or the bpf LSM is not active for lsm programs)", e.errno, e.op)


def _check_bpf_lsm() -> None:
    """An LSM program attaches fine even where the bpf LSM is off, and then never runs:
    refuse when securityfs says so (when it is not readable, we cannot tell)."""
    try:
        with open(LSM_LIST) as f:
            active = f.read().strip().split(",")
    except OSError:
        return
    if "bpf" not in active:
        raise errors.NotSupportedError(
            "lsm (BPF LSM)", f"bpf is not an active LSM ({LSM_LIST}: {','.join(active)}); "
            "boot with lsm=...,bpf", _errno.EOPNOTSUPP, "lsm attach")


def attach(prog, *, cookie: int = 0) -> Link:
    """Attach a TRACING (fentry, fexit, fmod_ret, tp_btf) or LSM program to the target it
    was loaded for.  BPF_LINK_CREATE where the kernel takes it, else the older
    BPF_RAW_TRACEPOINT_OPEN with no name, which attaches all of these."""
    at = _attach_type(prog)
    if at == AttachType.TRACE_ITER:
        raise errors.PybpfError(f"{prog.name!r} is an iterator: use pybpf.links.iter.attach")
    kind = _KIND.get(at, "tracing") if at is not None else "tracing"
    spec = getattr(prog, "spec", None)
    target = (spec.attach_to if spec is not None and spec.attach_to else "") or prog.name
    if at == AttachType.LSM_MAC:
        _check_bpf_lsm()
    if at is not None:
        try:
            tail = {"tracing": attr._LinkTarget._Tracing(cookie=cookie)} if cookie else {}
            fd = link_create(prog.fileno(), 0, at, what=f"{kind} {target}", **tail)
            return Link(fd, kind=kind, target=target)
        except errors.MissingPrivilegeError as e:
            if at in _TRAMPOLINE:
                raise _unsupported(kind, e) from None
            raise
        except errors.KernelError as e:
            if e.errno in (ENOTSUPP, _errno.EOPNOTSUPP) and at in _TRAMPOLINE:
                raise _unsupported(kind, e) from None
            # EINVAL: a kernel whose BPF_LINK_CREATE does not take this attach type yet
            if e.errno != _errno.EINVAL or cookie:
                raise
    a = attr.RawTracepointOpen(name=0, prog_fd=prog.fileno())
    try:
        fd = FD(syscall.bpf(Cmd.RAW_TRACEPOINT_OPEN, a, detail=f"{kind} {target}"))
    except errors.KernelError as e:
        if e.errno in (ENOTSUPP, _errno.EOPNOTSUPP) or (
                isinstance(e, errors.MissingPrivilegeError) and at in _TRAMPOLINE):
            raise _unsupported(kind, e) from None
        raise
    return Link(fd, kind=kind, target=target)

