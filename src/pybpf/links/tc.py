"""tc programs on an interface's ingress or egress: tcx links (kernel 6.6+), or on older
kernels a clsact qdisc with a direct-action cls_bpf filter, set up over rtnetlink."""

from __future__ import annotations

import errno as _errno

import _socket

from .. import errors
from .._sys.uapi import AttachType
from .base import Link, link_create

_DIRS = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}


def attach(prog, iface: str | int, direction: str = "ingress", mode: str = "auto", *,
           priority: int = 1, handle: int = 1) -> Link:
    """Attach a SCHED_CLS program (return TC_ACT_OK=0 / TC_ACT_SHOT=2) to ``iface``.

    ``mode``: "tcx" (a bpf link), "netlink" (clsact + cls_bpf; the filter, and the qdisc
    if this call created it, go away on close) or "auto" (tcx where the kernel has it).
    "netlink" is what libbpf's ``bpf_tc_hook_create``/``bpf_tc_attach`` do, and the quicker
    attach: the kernel makes a tcx attach wait out an RCU grace period (~8 ms on an idle
    2-CPU machine, bench/RESULTS.md), a cls_bpf filter takes well under 1 ms.
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
        fd = link_create(prog.fileno(), _ifindex(iface), _DIRS[direction],
                         what=f"tcx {direction} on {iface}", feature="tcx links")
    except errors.KernelError as e:
        if e.errno in (22, 95) and not isinstance(e, errors.NotSupportedError):
            raise errors.NotSupportedError("tcx", "this kernel predates tcx links (6.6)",
                                           e.errno) from None
        raise
    return Link(fd, kind="tcx", target=f"{iface}/{direction}")


def _attach_netlink(prog, iface, direction: str, priority: int, handle: int) -> Link:
    # rtnetlink through a socket of our own (tc_netlink), opened here so it stays in the
    # network namespace of the caller; it is closed once the filter is removed.
    from .tc_netlink import RtNetlink
    idx = _ifindex(iface)
    nl = RtNetlink()
    created = False
    try:
        created = nl.add_clsact(idx, f"tc clsact qdisc on {iface}")
        nl.add_filter(idx, direction, priority, handle, prog.fileno(), prog.name,
                      f"tc {direction} filter on {iface}")
    except BaseException:
        if created:
            nl.del_clsact(idx)
        nl.close()
        raise

    def detach() -> None:
        try:
            _gone_is_fine(nl.del_filter(idx, direction, priority, handle),
                          f"removing the tc {direction} filter on {iface}")
            if created:
                _gone_is_fine(nl.del_clsact(idx), f"removing the clsact qdisc on {iface}")
        finally:
            nl.close()
    return Link(None, kind="tc", target=f"{iface}/{direction} (clsact)", detach=detach)


def _ifindex(iface: str | int) -> int:
    """The index of an interface given by name or index (NotFoundError if absent)."""
    if isinstance(iface, int):
        return iface
    try:        # _socket: the socket module's import (enum, selectors) costs ~5 ms
        return _socket.if_nametoindex(iface)
    except OSError:
        raise errors.NotFoundError(_errno.ENODEV, "tc attach",
                                   f"no network interface {iface!r}") from None


def _gone_is_fine(err: int, op: str) -> None:
    """A teardown step's errno: an interface or qdisc that is already gone is fine."""
    if err not in (0, _errno.ENOENT, _errno.ENODEV, _errno.EINVAL):
        raise errors.from_errno(err, op)
