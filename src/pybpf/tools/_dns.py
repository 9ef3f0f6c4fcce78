"""DNS answers for tcpconnect -d: the question and the A/AAAA addresses of a response
(RFC 1035 wire format, names with compression pointers), and a bounded cache of address
-> (name, when) that a connect to the address looks up, as bcc's tcpconnect does.  The
bytes come from the network: any malformed message yields None, never an exception."""

from __future__ import annotations

import socket
import time

_A, _AAAA = 1, 28
MAX_JUMPS = 32          # compression pointers followed for one name (loops end here)


def _name(msg: bytes, pos: int) -> tuple[str, int] | None:
    """The dotted name at ``pos`` and the offset after it in the message (a pointer
    ends a name where it stands)."""
    labels: list[str] = []
    end = None
    jumps = 0
    while True:
        if pos >= len(msg):
            return None
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(msg) or jumps >= MAX_JUMPS:
                return None
            if end is None:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            continue
        if n & 0xC0:
            return None                 # 0x40/0x80: reserved label types
        label = msg[pos + 1:pos + 1 + n]
        if len(label) != n:
            return None
        labels.append(label.decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels), end if end is not None else pos


def parse_answer(msg: bytes) -> tuple[str, list[str]] | None:
    """(question name, A/AAAA addresses) of a DNS response with one question and an
    answer (or the authoritative bit), else None."""
    if len(msg) < 12:
        return None
    flags = int.from_bytes(msg[2:4], "big")
    qd, an = int.from_bytes(msg[4:6], "big"), int.from_bytes(msg[6:8], "big")
    if not flags & 0x8000 or qd != 1 or (an == 0 and not flags & 0x0400):
        return None
    got = _name(msg, 12)
    if got is None:
        return None
    qname, pos = got
    pos += 4                            # qtype, qclass
    addrs: list[str] = []
    for _ in range(an):
        got = _name(msg, pos)
        if got is None:
            break
        _, pos = got
        if pos + 10 > len(msg):
            break
        rtype = int.from_bytes(msg[pos:pos + 2], "big")
        rdlen = int.from_bytes(msg[pos + 8:pos + 10], "big")
        rdata = msg[pos + 10:pos + 10 + rdlen]
        if len(rdata) != rdlen:
            break
        if rtype == _A and rdlen == 4:
            addrs.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == _AAAA and rdlen == 16:
            addrs.append(socket.inet_ntop(socket.AF_INET6, rdata))
        pos += 10 + rdlen
    return qname, addrs


class Cache:
    """Address -> (question, monotonic time of the answer), at most ``size`` entries
    (the oldest answer goes first) kept for ``ttl`` seconds: bcc's 10240 and 24 h."""

    def __init__(self, size: int = 10240, ttl: float = 86400.0):
        self.size, self.ttl = size, ttl
        self.names: dict[str, tuple[str, float]] = {}

    def add(self, msg: bytes) -> None:
        got = parse_answer(msg)
        if got is None:
            return
        qname, addrs = got
        now = time.monotonic()
        for a in addrs:
            self.names.pop(a, None)
            self.names[a] = (qname, now)
        while len(self.names) > self.size:
            del self.names[next(iter(self.names))]

    def lookup(self, addr: str) -> tuple[str | None, float | None]:
        """(name, ms since the answer) for a connect's address, or (None, None)."""
        hit = self.names.get(addr)
        if hit is None:
            return None, None
        age = time.monotonic() - hit[1]
        if age > self.ttl:
            del self.names[addr]
            return None, None
        return hit[0], age * 1000.0

    def column(self, addr: str, slow_ms: float = 100.0) -> str:
        """bcc's QUERY column: the name (with its age when older than ``slow_ms``), else
        "localhost" for the loopback addresses, else "No DNS Query"."""
        name, ms = self.lookup(addr)
        if name is None:
            return "localhost" if addr in ("127.0.0.1", "::1") else "No DNS Query"
        return name + (" (%.3fms)" % ms if ms > slow_ms else "")
