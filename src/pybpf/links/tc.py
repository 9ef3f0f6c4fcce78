"""tc programs on an interface's ingress or egress: tcx links (kernel 6.6+), or on older
kernels a clsact qdisc with a direct-action cls_bpf filter, set up over rtnetlink."""

from __future__ import annotations

import errno as _errno

from .. import errors
from .._sys.uapi import AttachType
from .base import Link, link_create
from .xdp import ifindex

_DIRS = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}
# clsact's pseudo-parents for its ingress and egress hooks (TC_H_MIN_INGRESS/EGRESS)
_CLSACT_PARENT = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
_ETH_P_ALL = 0x0003


def attach(prog, iface: str | int, direction: str = "ingress", mode: str = "auto", *,
           priority: int = 1, handle: int = 1) -> Link:
    """Attach a SCHED_CLS program (return TC_ACT_OK=0 / TC_ACT_SHOT=2) to ``iface``.

    ``mode``: "tcx" (a bpf link), "netlink" (clsact + cls_bpf; the filter, and the qdisc
    if this call created it, go away on close) or "auto" (tcx where the kernel has it).
    """
    if direction not in _DIRS:
        raise ValueError("direction must be 'ingress' or 'egress'")
    if mode not in ("auto", "tcx", "netlink"):
        raise ValueError("mode must be 'auto', 'tcx' or 'netlink'")
    if mode != "netlink":
        try:
            return _attach_tcx(prog, iface, direction)
        except errors.NotSupportedError:
            if mode == "tcx":
                raise
    return _attach_netlink(prog, iface, direction, priority, handle)


def _attach_tcx(prog, iface, direction: str) -> Link:
    try:
        fd = link_create(prog.fileno(), ifindex(iface), _DIRS[direction],
                         what=f"tcx {direction} on {iface}", feature="tcx links")
    except errors.KernelError as e:
        if e.errno in (22, 95) and not isinstance(e, errors.NotSupportedError):
            raise errors.NotSupportedError("tcx", "this kernel predates tcx links (6.6)",
                                           e.errno) from None
        raise
    return Link(fd, kind="tcx", target=f"{iface}/{direction}")


def _attach_netlink(prog, iface, direction: str, priority: int, handle: int) -> Link:
    # pyroute2 (a well-kept netlink library) only on this path: importing it costs ~20 ms.
    # Its socket is opened here, so it stays in the network namespace of the caller.
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    idx = ifindex(iface)
    parent = _CLSACT_PARENT[direction]
    ipr = IPRoute()
    created = False
    try:
        try:
            ipr.tc("add", "clsact", idx)
            created = True
        except NetlinkError as e:
            if e.code != _errno.EEXIST:
                raise
        ipr.tc("add-filter", "bpf", idx, handle, fd=prog.fileno(), name=prog.name,
               parent=parent, prio=priority, protocol=_ETH_P_ALL, direct_action=True)
    except NetlinkError as e:
        if created:
            _quiet(lambda: ipr.tc("del", "clsact", idx))
        ipr.close()
        raise errors.from_errno(e.code, f"tc {direction} filter on {iface}") from None
    except BaseException:
        ipr.close()
        raise

    def detach() -> None:
        try:
            _quiet(lambda: ipr.tc("del-filter", "bpf", idx, handle, parent=parent,
                                  prio=priority, protocol=_ETH_P_ALL))
            if created:
                _quiet(lambda: ipr.tc("del", "clsact", idx))
        finally:
            ipr.close()
    return Link(None, kind="tc", target=f"{iface}/{direction} (clsact)", detach=detach)


def _quiet(fn) -> None:
    """Run a teardown step; an interface or qdisc that is already gone is fine."""
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        fn()
    except NetlinkError as e:
        if e.code not in (_errno.ENOENT, _errno.ENODEV, _errno.EINVAL):
            raise
