"""XDP: attach to a network interface through a bpf link (kernel 5.9+)."""

from __future__ import annotations

import socket

from .. import errors
from .._sys.uapi import AttachType, XdpFlag
from .base import Link, link_create

_MODES = {"auto": 0, "generic": XdpFlag.SKB_MODE, "native": XdpFlag.DRV_MODE}


def ifindex(iface: str | int) -> int:
    """The index of an interface given by name or index (NotFoundError if absent)."""
    if isinstance(iface, int):
        return iface
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        raise errors.NotFoundError(19, "XDP attach", f"no network interface {iface!r}") \
            from None


def attach(prog, iface: str | int, mode: str = "auto") -> Link:
    """Attach an XDP program; ``mode`` is auto, generic (skb) or native (driver)."""
    if mode not in _MODES:
        raise ValueError(f"XDP mode must be one of {sorted(_MODES)}")
    idx = ifindex(iface)
    try:
        fd = link_create(prog.fileno(), idx, AttachType.XDP, flags=_MODES[mode],
                         what=f"XDP on {iface}", feature="XDP links")
    except errors.KernelError as e:
        if mode == "native" and e.errno in (22, 95, 524):
            raise errors.NotSupportedError(f"native XDP on {iface}",
                                           "the driver has no XDP support; use mode='generic'",
                                           e.errno) from None
        if mode == "auto" and e.errno in (95, 524):
            # no mode: the kernel picks the driver's when the driver has an XDP hook at
            # all (virtio_net does), and a driver that then refuses (queues, offloads)
            # fails the attach although XDP links work here
            raise errors.NotSupportedError(f"XDP on {iface}",
                                           "the driver refused the program in native mode, "
                                           "which the kernel picks when none is asked for; "
                                           "generic mode (mode='generic', bcc's "
                                           "XDP_FLAGS_SKB_MODE) attaches", e.errno) from None
        raise
    return Link(fd, kind="xdp", target=str(iface))
