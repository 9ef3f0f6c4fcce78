"""tc programs through tcx links (kernel 6.6+): ingress or egress of an interface."""

from __future__ import annotations

from .. import errors
from .._sys.uapi import AttachType
from .base import Link, link_create
from .xdp import ifindex

_DIRS = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}


def attach(prog, iface: str | int, direction: str = "ingress") -> Link:
    """Attach a SCHED_CLS program to ``iface`` via tcx (return TC_ACT_OK=0 / TC_ACT_SHOT=2)."""
    if direction not in _DIRS:
        raise ValueError("direction must be 'ingress' or 'egress'")
    try:
        fd = link_create(prog.fileno(), ifindex(iface), _DIRS[direction],
                         what=f"tcx {direction} on {iface}", feature="tcx links")
    except errors.KernelError as e:
        if e.errno in (22, 95) and not isinstance(e, errors.NotSupportedError):
            raise errors.NotSupportedError("tcx", "this kernel predates tcx links (6.6); the "
                                           "clsact/cls_bpf netlink fallback is not written "
                                           "yet", e.errno) from None
        raise
    return Link(fd, kind="tcx", target=f"{iface}/{direction}")
