"""Ethernet frames for BPF_PROG_TEST_RUN: IPv4/IPv6 with TCP, UDP or ICMP (checksums
left zero: XDP and tc programs see the bytes before anything checks them)."""

from __future__ import annotations

import socket
import struct

_MACS = bytes.fromhex("020000000002") + bytes.fromhex("020000000001")
_L4 = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}


def frame(src: str, dst: str, proto: str = "udp", dport: int = 80, sport: int = 12345,
          payload: bytes = b"x" * 18, vlan: int | None = None,
          frag_offset: int = 0) -> bytes:
    """One frame from ``src`` to ``dst`` (both IPv4 or both IPv6); ``vlan``: an 802.1Q
    tag; ``frag_offset``: an IPv4 fragment offset (8-byte units)."""
    v6 = ":" in src
    p = _L4[proto]
    if proto == "tcp":
        l4 = struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 1024, 0, 0)
    elif proto == "udp":
        l4 = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0)
    else:
        l4 = struct.pack(">BBHHH", 128 if v6 else 8, 0, 0, 1, 1)
    l4 += payload
    if v6:
        ip = struct.pack(">IHBB", 6 << 28, len(l4), p, 64) + \
            socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        eth_type = 0x86DD
    else:
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, frag_offset & 0x1fff, 64,
                         p, 0, socket.inet_aton(src), socket.inet_aton(dst))
        eth_type = 0x0800
    head = _MACS
    if vlan is not None:
        head += struct.pack(">HH", 0x8100, vlan)
    return head + struct.pack(">H", eth_type) + ip + l4


def ext_headers(proto: str, *kinds: str, frag_offset: int = 0) -> tuple[int, bytes]:
    """IPv6 extension headers (hop-by-hop 'hop', destination options 'dst', 'frag')
    chained to ``proto``: (first next-header value, bytes)."""
    codes = {"hop": 0, "dst": 60, "frag": 44}
    out = b""
    nxt = _L4[proto]
    for kind in reversed(kinds):
        if kind == "frag":
            out = struct.pack(">BBHI", nxt, 0, (frag_offset << 3), 7) + out
        else:
            out = struct.pack(">BB6x", nxt, 0) + out
        nxt = codes[kind]
    return nxt, out


def frame6_ext(src: str, dst: str, proto: str, dport: int, *kinds: str,
               frag_offset: int = 0) -> bytes:
    """An IPv6 frame with extension headers before the transport header."""
    first, ext = ext_headers(proto, *kinds, frag_offset=frag_offset)
    base = frame(src, dst, proto, dport)
    l4 = base[14 + 40:]
    ip = struct.pack(">IHBB", 6 << 28, len(ext) + len(l4), first, 64) + base[14 + 8:14 + 40]
    return base[:14] + ip + ext + l4
