"""Socket filters: SO_ATTACH_BPF on one socket; closing the attachment detaches it."""

from __future__ import annotations

import socket as _socket
import struct

from .base import Link

SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27      # same value as SO_DETACH_FILTER


def attach(prog, sock: _socket.socket) -> Link:
    """Filter ``sock``'s incoming packets through ``prog`` (return 0 drops, n keeps n bytes)."""
    sock.setsockopt(_socket.SOL_SOCKET, SO_ATTACH_BPF, struct.pack("i", prog.fileno()))

    def detach() -> None:
        if sock.fileno() >= 0:
            try:
                sock.setsockopt(_socket.SOL_SOCKET, SO_DETACH_BPF, 0)
            except OSError:
                pass  # already detached, or the socket is gone
    return Link(None, kind="socket", target=f"fd {sock.fileno()}", detach=detach)
