"""Two-address firewall rules (``from A to B``): their entries in the rule trie.  Pure:
no kernel, no root.

The program looks up one class of them (protocol and port) in two steps (firewall.h):
the packet's destination gives a group (the longest destination prefix with such rules),
and its source, inside the group, an entry (the longest source prefix there).  A
longest-prefix lookup sees only the longest match, so the groups and entries are filled
here with what the enclosing prefixes hold: a destination prefix's group has the rules
of every destination prefix enclosing it, and each source entry of a group holds the
best of the group's rules whose source encloses it.  Two lookups then find the best
two-address rule of the class for any packet.

Rank among them (docs/firewall.md): the longer of the rule's two prefixes, then its port
rank, then the shorter prefix, then a longer source than destination, then the narrower
port item.  Against a one-address rule, the longer prefix counts as the rule's prefix
length, and at an equal length and port rank the two-address rule wins.
"""

from __future__ import annotations

PAIR1, PAIR2 = 4, 5
SPEC_PAIR = 8
PMASK_SHIFT = 32            # two-address classes are bits 32.. of the class mask
NOT_A_RULE = 0xFFFFFFFF


def _ancestors(addr: bytes, plen: int, present: dict, lens: list) -> list:
    """The (addr, plen) keys of ``present`` that enclose addr/plen (itself included);
    ``lens``: the prefix lengths ``present`` has, ascending."""
    out = []
    value = None
    for n in lens:
        if n >= plen:
            if n == plen and (addr, plen) in present:
                out.append((addr, plen))
            break
        if value is None:
            value = int.from_bytes(addr, "big")
        cand = ((value >> (128 - n) << (128 - n)) if n else 0).to_bytes(16, "big")
        if (cand, n) in present:
            out.append((cand, n))
    return out


class Pairs:
    """The two-address rules of a rule set, by class; :meth:`build` makes their entries."""

    def __init__(self):
        self.members: dict[tuple, list] = {}

    def add(self, cls: tuple, i: int, spec: int, probe: int, lo: int, hi: int) -> None:
        """Rule ``i`` is in class ``cls`` (family, proto, pkind, port field) with port rank
        ``spec``, found by the probe of mask bit ``probe``, through port item lo-hi."""
        self.members.setdefault(cls, []).append((i, spec, probe, lo, hi))

    def build(self, rules, key, value, hdr_bits: int, tail, error) -> tuple[dict, list, list]:
        """Entries per rule index ({i: [(key, tail, mask bit)]}) and the group entries
        (keys, values) of the set.  ``tail(rule, plen, spec, family)`` packs a value
        without its id; ``error(msg, rule)`` raises."""
        per_rule: dict[int, list] = {}
        gkeys: list[bytes] = []
        gvals: list[bytes] = []
        gid = 0

        def rank(m):
            r = rules[m[0]]
            sp, dp = r.src.plen, r.dst.plen
            return (max(sp, dp), m[1], min(sp, dp), sp >= dp, m[3] - m[4])

        tails: dict = {}
        for (fam, proto, pkind, port_ne), mem in self.members.items():
            by_dst: dict = {}
            for m in mem:
                d = rules[m[0]].dst
                by_dst.setdefault((d.addr, d.plen), []).append(m)
            dlens = sorted({plen for _, plen in by_dst})
            for daddr, dplen in by_dst:
                gid += 1
                gkeys.append(key.pack(hdr_bits + dplen, PAIR1, fam, proto, pkind, port_ne,
                                      daddr))
                gvals.append(value.pack(NOT_A_RULE, 0, 0, 0, 0, gid, 0))
                group = [m for a in _ancestors(daddr, dplen, by_dst, dlens) for m in by_dst[a]]
                by_src: dict = {}
                for m in group:
                    sp = rules[m[0]].src
                    by_src.setdefault((sp.addr, sp.plen), []).append(m)
                slens = sorted({plen for _, plen in by_src})
                g_hdr = (gid & 255, (gid >> 8) & 255, gid >> 16)
                for saddr, splen in by_src:
                    cands = [m for a in _ancestors(saddr, splen, by_src, slens)
                             for m in by_src[a]]
                    if len(cands) > 1:
                        cands.sort(key=rank, reverse=True)
                        if rank(cands[1]) == rank(cands[0]):
                            r, o = rules[cands[0][0]], rules[cands[1][0]]
                            same = cands[0][3:] == cands[1][3:]
                            what = ("has the same match as" if same else
                                    "overlaps, with a range as wide, the ports of")
                            where = f" (line {o.line})" if o.line else ""
                            error(f"'{r.text()}' {what} '{o.text()}'{where}", r)
                    i, spec, probe = cands[0][0], cands[0][1], cands[0][2]
                    r = rules[i]
                    k = key.pack(hdr_bits + splen, PAIR2, fam, *g_hdr, saddr)
                    tk = (r.action, max(r.src.plen, r.dst.plen), spec, fam, r.per, r.per6,
                          r.rate, r.burst)
                    tl = tails.get(tk)
                    if tl is None:
                        tl = tails[tk] = tail(r, tk[1], spec | SPEC_PAIR, fam)
                    per_rule.setdefault(i, []).append((
                        k, tl, 1 << (PMASK_SHIFT + (fam - 1) * 8 + probe)))
        return per_rule, gkeys, gvals
