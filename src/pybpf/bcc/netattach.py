"""bcc's networking attachments on :class:`~pybpf.bcc.bpf.BPF`: raw sockets, and programs
attached to a file descriptor by type (cgroups, sockmaps).

``BPF.attach_raw_socket(fn, dev)`` opens a packet socket on ``dev`` with ``fn`` as its
filter and leaves its descriptor in ``fn.sock`` (the script reads packets from it);
``attach_func(fn, fd, BPFAttachType.X)``/``detach_func`` are BPF_PROG_ATTACH/DETACH, as
sockmap.py uses them.  Whatever is still attached when the module is cleaned up is
detached then, so a script that dies early leaves no program behind.
"""

from __future__ import annotations

import os
import socket

from .. import errors
from .utils import as_str

ETH_P_ALL = 0x0003


class _RawSocket:
    """A packet socket that holds a filter program; close() detaches and closes it."""

    def __init__(self, sock: socket.socket, link):
        self.sock, self.link = sock, link

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        self.sock.close()


class _ProgAttachment:
    """A BPF_PROG_ATTACH attachment; close() detaches it (errors ignored: the target may
    be gone, or the script detached it itself)."""

    def __init__(self, prog_fd: int, target_fd: int, attach_type: int):
        # the target (a cgroup or map fd the script owns) may be closed by the script:
        # keep a duplicate to detach from
        self.prog_fd, self.target_fd = prog_fd, os.dup(target_fd)
        self.attach_type = attach_type

    def detach(self) -> None:
        _prog_attach(9, self.prog_fd, self.target_fd, self.attach_type, 0)

    def close(self) -> None:
        if self.target_fd < 0:
            return
        try:
            self.detach()
        except errors.PybpfError:
            pass
        os.close(self.target_fd)
        self.target_fd = -1


def _prog_attach(cmd: int, prog_fd: int, target_fd: int, attach_type: int, flags: int) -> None:
    from .._sys.attr_more import ProgAttach
    from .._sys.syscall import bpf
    from .._sys.uapi import Cmd
    a = ProgAttach(target_fd=target_fd, attach_bpf_fd=prog_fd, attach_type=int(attach_type),
                   attach_flags=flags)
    what = "attach_func" if cmd == 8 else "detach_func"
    bpf(Cmd(cmd), a, detail=f"{what}: attach type {int(attach_type)} on fd {target_fd}")


def open_raw_socket(dev: str) -> socket.socket:
    """A non-blocking packet socket for every protocol, bound to ``dev`` ("" for all
    devices), as bcc's bpf_open_raw_sock makes it."""
    s = socket.socket(socket.AF_PACKET,
                      socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                      socket.htons(ETH_P_ALL))
    try:
        if dev:
            try:
                s.bind((dev, ETH_P_ALL))
            except OSError as e:
                raise errors.NotFoundError(e.errno or 19, "attach_raw_socket",
                                           f"no network device {dev!r}") from None
    except BaseException:
        s.close()
        raise
    return s


class NetAttachMixin:
    """attach_raw_socket, attach_func, detach_func; ``module`` (what bcc's lib calls take)."""

    @property
    def module(self):
        """bcc passes ``bpf.module`` to libbcc calls (``lib.bpf_table_fd``); pybpf's
        :mod:`.libbcc` takes the BPF object itself."""
        return self

    @staticmethod
    def attach_raw_socket(fn, dev):
        """Filter the packets of a new raw socket on ``dev`` through ``fn`` (a
        SOCKET_FILTER function); its descriptor is ``fn.sock``."""
        from ..links import socket as socket_link
        if not hasattr(fn, "prog"):
            raise errors.PybpfError("attach_raw_socket: fn must be a function from load_func")
        dev = as_str(dev)
        s = open_raw_socket(dev)
        try:
            link = socket_link.attach(fn.prog, s)
        except BaseException:
            s.close()
            raise
        fn.sock = s.fileno()
        fn.bpf._keep(("raw_socket", dev, as_str(fn.name)), _RawSocket(s, link))

    def attach_func(self, fn, attachable_fd: int, attach_type, flags: int = 0) -> None:
        """BPF_PROG_ATTACH ``fn`` to ``attachable_fd`` (a cgroup, a sockmap, ...)."""
        _prog_attach(8, fn.fd, int(attachable_fd), int(attach_type), flags)
        self._keep(("prog_attach", fn.fd, int(attachable_fd), int(attach_type)),
                   _ProgAttachment(fn.fd, int(attachable_fd), int(attach_type)))

    def detach_func(self, fn, attachable_fd: int, attach_type) -> None:
        """BPF_PROG_DETACH ``fn`` from ``attachable_fd``."""
        key = ("prog_attach", fn.fd, int(attachable_fd), int(attach_type))
        held = self._links.pop(key, None)
        if held is None:
            _prog_attach(9, fn.fd, int(attachable_fd), int(attach_type), 0)
            return
        for a in held:
            if a.target_fd >= 0:
                a.detach()          # errors raise, as bcc's detach_func does
                os.close(a.target_fd)
                a.target_fd = -1
