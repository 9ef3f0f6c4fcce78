"""The rtnetlink messages of a clsact qdisc and a direct-action cls_bpf filter: what
``tc qdisc add dev X clsact`` and ``tc filter add dev X ingress bpf da fd N`` send, and
what libbpf's ``bpf_tc_hook_create``/``bpf_tc_attach`` send.

Four requests, each acknowledged, are all tc attach needs: built here with struct rather
than by pyroute2, whose import costs 0.2-0.5 s (bench/RESULTS.md, issue 14).  The socket
is the CPython ``_socket`` type, not the ``socket`` module, whose import (enum,
selectors) is another ~5 ms of an example's start.
"""

from __future__ import annotations

import errno as _errno
import struct

import _socket

from .. import errors

_AF_NETLINK, _NETLINK_ROUTE = 16, 0
_SOL_NETLINK, _NETLINK_CAP_ACK, _NETLINK_EXT_ACK = 270, 10, 11
_RTM_NEWQDISC, _RTM_DELQDISC, _RTM_NEWTFILTER, _RTM_DELTFILTER = 36, 37, 44, 45
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
_NLMSG_ERROR = 2
_NLM_F_CAPPED, _NLM_F_ACK_TLVS = 0x100, 0x200      # flags of an NLMSG_ERROR reply
_NLMSGERR_ATTR_MSG = 1
_NLA_F_NESTED = 0x8000
_TCA_KIND, _TCA_OPTIONS = 1, 2
_TCA_BPF_FD, _TCA_BPF_NAME, _TCA_BPF_FLAGS = 6, 7, 8
_TCA_BPF_FLAG_ACT_DIRECT = 1
_TC_H_CLSACT = 0xFFFFFFF1                  # clsact's parent (TC_H_INGRESS's value)
_CLSACT_HANDLE = 0xFFFF0000                # TC_H_MAKE(TC_H_CLSACT, 0)
# clsact's pseudo-parents of its two hooks: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS/EGRESS)
PARENTS = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
_ETH_P_ALL = 0x0003

_NLMSGHDR = struct.Struct("=IHHII")        # len, type, flags, seq, pid
_TCMSG = struct.Struct("=BxHiIII")         # family, pad, ifindex, handle, parent, info


def _attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * (-n & 3)


def tcmsg(ifindex: int, handle: int, parent: int, info: int = 0) -> bytes:
    return _TCMSG.pack(0, 0, ifindex, handle, parent, info)


def clsact(ifindex: int) -> bytes:
    """The body of RTM_NEWQDISC/RTM_DELQDISC for ``ifindex``'s clsact qdisc."""
    return tcmsg(ifindex, _CLSACT_HANDLE, _TC_H_CLSACT) + _attr(_TCA_KIND, b"clsact\0")


def bpf_filter(ifindex: int, direction: str, priority: int, handle: int,
               prog_fd: int | None = None, name: str = "") -> bytes:
    """The body of RTM_NEWTFILTER (with ``prog_fd``) or RTM_DELTFILTER (without) of a
    direct-action cls_bpf filter for every protocol, as libbpf's bpf_tc_attach makes."""
    # tcm_info: the priority in the upper half, the protocol (network order) in the lower
    info = (priority << 16) | struct.unpack("<H", struct.pack(">H", _ETH_P_ALL))[0]
    body = tcmsg(ifindex, handle, PARENTS[direction], info) + _attr(_TCA_KIND, b"bpf\0")
    if prog_fd is not None:
        opts = (_attr(_TCA_BPF_FD, struct.pack("=I", prog_fd))
                + _attr(_TCA_BPF_NAME, name.encode()[:255] + b"\0")
                + _attr(_TCA_BPF_FLAGS, struct.pack("=I", _TCA_BPF_FLAG_ACT_DIRECT)))
        body += _attr(_TCA_OPTIONS | _NLA_F_NESTED, opts)
    return body


def parse_ack(reply: bytes, seq: int) -> tuple[int, str]:
    """(errno, the kernel's extended-ack message) of the NLMSG_ERROR answering ``seq``;
    errno 0 is success.  ValueError when the reply holds no such message."""
    off = 0
    while off + _NLMSGHDR.size <= len(reply):
        n, kind, flags, s, _ = _NLMSGHDR.unpack_from(reply, off)
        if n < _NLMSGHDR.size or off + n > len(reply):
            break
        if kind == _NLMSG_ERROR and s == seq and n >= _NLMSGHDR.size + 4 + _NLMSGHDR.size:
            err = -struct.unpack_from("=i", reply, off + 16)[0]
            msg = ""
            if flags & _NLM_F_ACK_TLVS:
                # the request's header (or all of it when not capped), then attributes
                orig_len = _NLMSGHDR.unpack_from(reply, off + 20)[0]
                at = off + 20 + (16 if flags & _NLM_F_CAPPED else (orig_len + 3) & ~3)
                while at + 4 <= off + n:
                    alen, atype = struct.unpack_from("=HH", reply, at)
                    if alen < 4 or at + alen > off + n:
                        break
                    if atype & 0x3FFF == _NLMSGERR_ATTR_MSG:
                        msg = reply[at + 4:at + alen].split(b"\0")[0].decode(errors="replace")
                    at += (alen + 3) & ~3
            return err, msg
        off += (n + 3) & ~3
    raise ValueError("no acknowledgement in the netlink reply")


class RtNetlink:
    """An rtnetlink socket in the caller's network namespace (it stays there: a filter
    is removed through the socket that made it, wherever the caller moved since)."""

    def __init__(self):
        self._sock = _socket.socket(_AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                                    _NETLINK_ROUTE)
        for opt in (_NETLINK_CAP_ACK, _NETLINK_EXT_ACK):
            try:        # error messages from the kernel, without our request echoed
                self._sock.setsockopt(_SOL_NETLINK, opt, 1)
            except OSError:
                pass
        self._sock.bind((0, 0))
        self._seq = 0

    def request(self, kind: int, body: bytes, flags: int = 0) -> tuple[int, str]:
        """Send one request and wait for its acknowledgement: (errno, message)."""
        self._seq += 1
        msg = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind,
                             _NLM_F_REQUEST | _NLM_F_ACK | flags, self._seq, 0) + body
        self._sock.sendto(msg, (0, 0))
        while True:
            try:
                return parse_ack(self._sock.recv(65536), self._seq)
            except ValueError:
                continue            # a reply to something else (none expected): skip it

    def add_clsact(self, ifindex: int, op: str) -> bool:
        """Create the clsact qdisc; False when it is there already."""
        err, msg = self.request(_RTM_NEWQDISC, clsact(ifindex), _NLM_F_CREATE | _NLM_F_EXCL)
        if err == _errno.EEXIST:
            return False
        _check(err, msg, op)
        return True

    def del_clsact(self, ifindex: int) -> int:
        return self.request(_RTM_DELQDISC, clsact(ifindex))[0]

    def add_filter(self, ifindex: int, direction: str, priority: int, handle: int,
                   prog_fd: int, name: str, op: str) -> None:
        err, msg = self.request(_RTM_NEWTFILTER,
                                bpf_filter(ifindex, direction, priority, handle, prog_fd,
                                           name), _NLM_F_CREATE | _NLM_F_EXCL)
        _check(err, msg, op)

    def del_filter(self, ifindex: int, direction: str, priority: int, handle: int) -> int:
        return self.request(_RTM_DELTFILTER,
                            bpf_filter(ifindex, direction, priority, handle))[0]

    def close(self) -> None:
        self._sock.close()


def _check(err: int, msg: str, op: str) -> None:
    if err:
        raise errors.from_errno(err, op, msg)       # msg: the kernel's own words, if any
