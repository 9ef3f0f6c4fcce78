"""Port lists and ranges for firewall rules: their syntax, and their encoding as port
classes.  Pure: no kernel, no root.

A single port is matched exactly (one trie key per port).  A range would need a key per
port, so ranges go through classes instead: all ranges of one protocol and direction cut
the port space into intervals, the intervals covered by the same ranges share a class,
and the trie maps each port to its class with a handful of prefix entries (FW_PMAP in
firewall.h).  A range rule then has one key per class it covers, and a packet costs one
class lookup per direction, whatever the number of ranges.
"""

from __future__ import annotations

import functools
import struct

PK_DPORT, PK_DCLASS, PK_SPORT, PK_SCLASS = 0, 1, 2, 3
PMAP, META = 2, 3                 # trie dims of port-class and range-record entries
NOT_A_RULE = 0xFFFFFFFF           # the id in the value of PMAP and META entries
MAX_CLASSES = 65535
MAX_ITEMS = 64                    # items in one port list

Items = tuple  # of (lo, hi) pairs, sorted, disjoint; lo == hi: a single port


class PortError(ValueError):
    """A port list that cannot be parsed (rules.py turns it into a RuleError)."""


def parse_ports(text: str, what: str = "port") -> Items:
    """``80``, ``80,443``, ``6000-7000`` or a mix: sorted items, overlapping or adjacent
    ranges merged, single ports inside a range dropped (the range covers them)."""
    raw = []
    parts = text.split(",")
    if len(parts) > MAX_ITEMS:
        raise PortError(f"{what}: more than {MAX_ITEMS} items in one list")
    for part in parts:
        lo_s, dash, hi_s = part.partition("-")
        lo = _port(lo_s, what)
        hi = _port(hi_s, what) if dash else lo
        if hi < lo:
            raise PortError(f"{what} range {part!r} runs backwards")
        raw.append((lo, hi))
    return normalize(raw)


def _port(tok: str, what: str) -> int:
    if not tok.isdigit() or not 1 <= int(tok) <= 65535:
        raise PortError(f"{what} must be a number from 1 to 65535 (or N-M, or a list "
                        f"N,M,...), not {tok!r}")
    return int(tok)


def normalize(items) -> Items:
    ranges = sorted((lo, hi) for lo, hi in items if hi > lo)
    merged: list[list[int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    out = [(lo, hi) for lo, hi in merged]
    singles = sorted({lo for lo, hi in items if hi == lo})
    out += [(p, p) for p in singles if not any(lo <= p <= hi for lo, hi in merged)]
    return tuple(sorted(out))


def text(items: Items) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in items)


@functools.lru_cache(maxsize=4096)      # rule sets repeat a few port lists many times
def singles(items: Items) -> tuple[int, ...]:
    return tuple(lo for lo, hi in items if lo == hi)


@functools.lru_cache(maxsize=4096)
def ranges(items: Items) -> tuple[tuple[int, int], ...]:
    return tuple((lo, hi) for lo, hi in items if hi > lo)


def prefix_blocks(lo: int, hi: int):
    """The fewest (start, prefix bits) blocks of 16-bit ports that cover [lo, hi]."""
    while lo <= hi:
        size = lo & -lo if lo else 1 << 16
        while size > hi - lo + 1:
            size >>= 1
        yield lo, 16 - size.bit_length() + 1
        lo += size


def partition(spans):
    """``spans``: (lo, hi, owner) ranges.  Yields (lo, hi, frozenset of owners covering
    it) for each maximal interval with a constant, non-empty set of owners."""
    events: dict[int, list] = {}
    for lo, hi, who in spans:
        events.setdefault(lo, []).append((1, who))
        events.setdefault(hi + 1, []).append((-1, who))
    active: dict = {}
    points = sorted(events)
    for n, p in enumerate(points):
        for d, who in events[p]:
            active[who] = active.get(who, 0) + d
            if not active[who]:
                del active[who]
        if active and n + 1 < len(points):
            yield p, points[n + 1] - 1, frozenset(active)


class Classes:
    """The port classes of one rule set: class ids by (proto, class kind, owners), and
    the PMAP trie entries that map ports to them."""

    def __init__(self, key: struct.Struct, value: struct.Struct, hdr_bits: int):
        self.key, self.value, self.hdr_bits = key, value, hdr_bits
        self.ids: dict = {}
        self.keys: list[bytes] = []
        self.vals: list[bytes] = []

    def build(self, proto: int, kind: int, spans) -> list[tuple[int, frozenset]]:
        """Classes for the ranges ``spans`` of one protocol and kind (PK_DCLASS or
        PK_SCLASS); returns (class id, owners) pairs."""
        out = {}
        # the catch-all: this protocol's ports of this kind are classes (class 0: none)
        self.keys.append(self.key.pack(self.hdr_bits, PMAP, 0, proto, kind, 0, bytes(16)))
        self.vals.append(self.value.pack(NOT_A_RULE, 0, 0, 0, 0, 0, 0))
        for lo, hi, owners in partition(spans):
            cid = self.ids.get((proto, kind, owners))
            if cid is None:
                cid = len(self.ids) + 1
                if cid > MAX_CLASSES:
                    raise PortError(f"the port ranges make more than {MAX_CLASSES} "
                                    "classes; merge some")
                self.ids[(proto, kind, owners)] = cid
                out[cid] = owners
            for start, bits in prefix_blocks(lo, hi):
                self.keys.append(self.key.pack(self.hdr_bits + bits, PMAP, 0, proto, kind, 0,
                                               start.to_bytes(2, "big").ljust(16, b"\0")))
                self.vals.append(self.value.pack(NOT_A_RULE, 0, 0, 0, 0, cid, 0))
        return list(out.items())


def meta_entry(key: struct.Struct, value: struct.Struct, hdr_bits: int, rid: int, n: int,
               kind: int, lo: int, hi: int) -> tuple[bytes, bytes]:
    """A record of range ``n`` of rule ``rid`` (never looked up by the program): what
    status shows, since narrower ranges of other rules may take parts of it."""
    addr = struct.pack(">IH", rid, n).ljust(16, b"\0")
    return (key.pack(hdr_bits + 48, META, 0, 0, 0, 0, addr),
            value.pack(NOT_A_RULE, 0, 0, kind, 0, lo << 16 | hi, 0))


META_SRC, META_DST = 4, 5          # META kinds of a two-address rule's prefixes


def meta_prefix(key: struct.Struct, value: struct.Struct, hdr_bits: int, rid: int,
                kind: int, proto: int, pfx) -> tuple[bytes, bytes]:
    """A record of a two-address rule's source (META_SRC) or destination prefix and its
    protocol (what status shows: its entries are spread over groups)."""
    addr = struct.pack(">IH", rid, 0xFFF0 + kind).ljust(16, b"\0")
    lo, hi = struct.unpack("<QQ", pfx.addr)
    return (key.pack(hdr_bits + 48, META, 0, 0, 0, 0, addr),
            value.pack(NOT_A_RULE, proto, pfx.plen, kind, pfx.family, lo, hi))


def meta_decode(key_addr: bytes, value_tuple) -> tuple[int, int, int, int]:
    """(rule id, kind, lo, hi) of a META entry."""
    rid, _ = struct.unpack_from(">IH", key_addr)
    kind, packed = value_tuple[3], value_tuple[5]
    return rid, kind, packed >> 16, packed & 0xFFFF

