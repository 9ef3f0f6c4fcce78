"""Firewall rule sets as entries of the program's LPM trie (layouts in firewall.h), and
back: what is loaded is read from the trie itself, so status needs no state file.  Pure:
no kernel, no root."""

from __future__ import annotations

import socket

from . import pairs as PR
from . import portclass as P
from .rules import (ALLOW, DST, HDR_BITS, KEY, LIMIT, SPEC_DPORT, SPEC_DRANGE, SPEC_NONE,
                    SPEC_PROTO, SPEC_SPORT, SPEC_SRANGE,
                    SRC, V4, VALUE, Prefix, Rule, RuleError, _htons, _ID, _tail, _ZERO16,
                    gc_paused)


def expand(rules: list[Rule]) -> tuple[list, tuple[list, list]]:
    """Every rule's entries (:meth:`Rule.entries` plus the keys of the port classes its
    ports cover) and the set's port-class entries (keys, values).  A protocol and
    direction with ranges has all its ports in classes, single ones too, so a packet
    needs one probe for both.  Where ports of two rules with the same address and
    protocol overlap, the narrower item owns the overlap (a single port is narrowest);
    ranges of the same width overlapping there are an error."""
    ranged = [i for i, r in enumerate(rules) if r.has_ranges()]
    paired = [i for i, r in enumerate(rules) if r.is_pair()]
    if not ranged and not paired:
        return [r.entries() for r in rules], ([], [])
    pairs = PR.Pairs()
    classed = set()
    for i in ranged:
        r = rules[i]
        for kind, items in ((P.PK_DCLASS, r.ports), (P.PK_SCLASS, r.sports)):
            if P.ranges(items):
                classed.update((pr, kind) for pr in r.protos())
    ported = [i for i, r in enumerate(rules) if r.ports or r.sports]
    entries = [r.entries(classed) if r.ports or r.sports else r.entries() for r in rules]
    cls = P.Classes(KEY, VALUE, HDR_BITS)
    # Classes depend on the distinct port items only; then each rule's item takes the
    # keys of its classes.
    items_by: dict = {}
    users = []
    for i in ported:
        r = rules[i]
        for kind, items in ((P.PK_DCLASS, r.ports), (P.PK_SCLASS, r.sports)):
            for lo, hi in items:
                for pr in r.protos():
                    if (pr, kind) in classed:
                        items_by.setdefault((pr, kind), set()).add((lo, hi))
                        users.append((i, pr, kind, lo, hi))
    item_cids: dict = {}
    for (pr, kind), its in sorted(items_by.items()):
        try:
            classes = cls.build(pr, kind, [(lo, hi, (lo, hi)) for lo, hi in sorted(its)])
        except P.PortError as e:
            raise RuleError(str(e)) from None
        for cid, owners in classes:
            cid_ne = _htons(cid)
            for lo, hi in owners:
                item_cids.setdefault((pr, kind, lo, hi), []).append(cid_ne)
    owner: dict[bytes, tuple] = {}
    pack, get = KEY.pack, owner.get
    for i, pr, kind, lo, hi in users:
        probe = SPEC_DRANGE if kind == P.PK_DCLASS else SPEC_SRANGE
        spec = (SPEC_DPORT if kind == P.PK_DCLASS else SPEC_SPORT) if lo == hi else probe
        r = rules[i]
        src, dst = r.src, r.dst
        cids = item_cids[(pr, kind, lo, hi)]
        if src is not None and dst is not None:
            for cid_ne in cids:
                pairs.add((src.family, pr, kind, cid_ne), i, spec, probe, lo, hi)
            continue
        pfx, dim = (dst, DST) if dst is not None else (src, SRC)
        if pfx is not None:
            addr, plen, fams = pfx.addr, pfx.plen, (pfx.family,)
        else:
            addr, plen, fams = _ZERO16, 0, r.families()
        for cid_ne in cids:
            for fam in fams:
                k = pack(HDR_BITS + plen, dim, fam, pr, kind, cid_ne, addr)
                prev = get(k)
                if prev is not None:
                    j, plo, phi = prev[0], prev[1], prev[2]
                    if phi - plo < hi - lo:
                        continue
                    if phi - plo == hi - lo:
                        o = rules[j]
                        where = f" (line {o.line})" if o.line else ""
                        what = ("has the same match as" if (plo, phi) == (lo, hi) else
                                "overlaps, with a range as wide, the ports of")
                        raise RuleError(f"'{r.text()}' {what} '{o.text()}'{where}", r.line)
                owner[k] = (i, lo, hi, fam, spec, dim, probe)
    extra: dict[int, list] = {}
    tails_memo: dict = {}
    for k, (i, _, _, fam, spec, dim, probe) in owner.items():
        r = rules[i]
        per = r.per if fam == V4 else r.per6
        pfx = r.dst if r.dst is not None else r.src
        tk = (r.action, pfx.plen if pfx is not None else 0, spec, per, r.rate, r.burst)
        tail = tails_memo.get(tk)
        if tail is None:
            tail = tails_memo[tk] = _tail(*tk)
        ex = extra.get(i)
        if ex is None:
            ex = extra[i] = []
        ex.append((k, tail, 1 << ((fam - 1) * 16 + dim * 8 + probe)))
    for i in paired:
        r = rules[i]
        fam = r.src.family
        if not (r.ports or r.sports):
            spec = SPEC_PROTO if r.proto else SPEC_NONE
            pairs.add((fam, r.proto, P.PK_DPORT, 0), i, spec, spec, 0, 0)
        for kind, items, pk, single in ((P.PK_DCLASS, r.ports, P.PK_DPORT, SPEC_DPORT),
                                        (P.PK_SCLASS, r.sports, P.PK_SPORT, SPEC_SPORT)):
            for lo, hi in items:
                for pr in r.protos():
                    if (pr, kind) not in classed:       # else a class member, above
                        pairs.add((fam, pr, pk, _htons(lo)), i, single, single, lo, lo)

    def tail(r, plen, spec, fam):
        return _tail(r.action, plen, spec, r.per if fam == V4 else r.per6, r.rate, r.burst)

    def error(msg, r):
        raise RuleError(msg, r.line)
    per_rule, gkeys, gvals = pairs.build(rules, KEY, VALUE, HDR_BITS, tail, error)
    for i, lst in per_rule.items():
        extra.setdefault(i, []).extend(lst)
    for i in sorted(set(ported) | set(paired)):
        ks, tails, mask = entries[i]
        add = extra.get(i, [])
        if not ks and not add:
            r = rules[i]
            raise RuleError(f"'{r.text()}' never matches: narrower port ranges of other "
                            "rules with the same address and protocol cover all of it"
                            if not r.is_pair() else f"'{r.text()}' never matches: rules "
                            "enclosing both its addresses with a single port of its range "
                            "take all of it", r.line)
        ks, tails = list(ks), list(tails)
        for k, tail, m in add:
            ks.append(k)
            tails.append(tail)
            mask |= m
        entries[i] = (ks, tails, mask)
    return entries, (cls.keys + gkeys, cls.vals + gvals)


def encode(rules: list[Rule], ids: list[int], default: int | None,
           entries: list | None = None, pmap: tuple | None = None
           ) -> tuple[bytes, bytes, int, int]:
    """Packed trie keys and values for ``rules`` (rule i gets ``ids[i]``; ``entries``
    and ``pmap``: what :func:`expand` gave, if already computed) plus the default policy
    as rule id 0: an address-less, protocol-less rule of each family, the least specific
    rule there can be, so it applies exactly when no other rule matches.  Returns (keys,
    values, count, class mask).  ``default`` None: no default entries (rules added to a
    live set).  Two rules with the same match are an error naming both lines."""
    keys: list[bytes] = []
    vals: list[bytes] = []
    owner: dict[bytes, int] = {}
    mask = 0
    if entries is None:
        entries, pmap = expand(rules)
    pack_id = _ID.pack
    for i, (rid, (ks, tails, m)) in enumerate(zip(ids, entries)):
        idb = pack_id(rid)
        for k, tail in zip(ks, tails):
            if k in owner:
                r, prev = rules[i], rules[owner[k]]
                where = f" (line {prev.line})" if prev.line else ""
                raise RuleError(f"'{r.text()}' has the same match as "
                                f"'{prev.text()}'{where}", r.line)
            owner[k] = i
            keys.append(k)
            vals.append(idb + tail)
        mask |= m
    if pmap and pmap[0]:
        keys += pmap[0]
        vals += pmap[1]
        for rid, r in zip(ids, rules):
            if r.is_pair():
                for kind, pfx in ((P.META_SRC, r.src), (P.META_DST, r.dst)):
                    k, v = P.meta_prefix(KEY, VALUE, HDR_BITS, rid, kind, r.proto, pfx)
                    keys.append(k)
                    vals.append(v)
            if r.ports or r.sports:
                items = [(P.PK_DCLASS, lo, hi) for lo, hi in r.ports]
                items += [(P.PK_SCLASS, lo, hi) for lo, hi in r.sports]
                for n, (kind, lo, hi) in enumerate(items):
                    k, v = P.meta_entry(KEY, VALUE, HDR_BITS, rid, n, kind, lo, hi)
                    keys.append(k)
                    vals.append(v)
    if default is None:
        return b"".join(keys), b"".join(vals), len(keys), mask
    # A rule matching everything of a family takes the default's place for that family.
    dks, dtails, _ = Rule(default).entries()
    for j, (k, tail) in enumerate(zip(dks, dtails)):
        if k not in owner:
            keys.append(k)
            vals.append(pack_id(0) + tail)
            mask |= 1 << (j * 16 + SRC * 8 + SPEC_NONE)
    return b"".join(keys), b"".join(vals), len(keys), mask


def default_of(trie: dict[bytes, bytes], fallback: int = ALLOW) -> int:
    """The default policy recorded in trie entries (key -> value bytes)."""
    for k in Rule(ALLOW).entries()[0]:
        v = trie.get(k)
        if v is not None and v[:4] == b"\0\0\0\0":
            return v[4]
    return fallback


def decode(entries, default_fallback: int = ALLOW) -> tuple[dict[int, Rule], int]:
    """Rules by id, rebuilt from trie entries (key bytes, value bytes), and the default
    policy (rule 0).  The inverse of :func:`encode`, so status needs no state file."""
    with gc_paused():
        return _decode(entries, default_fallback)


def _decode(entries, default_fallback: int) -> tuple[dict[int, Rule], int]:
    by_id: dict[int, list] = {}
    meta: dict[int, list] = {}
    pair: dict[int, dict] = {}
    for k, v in entries:
        plen, dim, fam, proto, pkind, port_ne, addr = KEY.unpack(k)
        vt = VALUE.unpack(v)
        if dim == P.META:
            rid, kind, lo, hi = P.meta_decode(addr, vt)
            if kind in (P.META_SRC, P.META_DST):
                pf = Prefix(vt[4], v[8:24], vt[2])
                pair.setdefault(rid, {})[kind] = (pf, vt[1])
            else:
                meta.setdefault(rid, []).append((kind, lo, hi))
            continue
        if dim in (P.PMAP, PR.PAIR1):
            continue
        rid, action, _, spec, per, interval, burst_ns = vt
        by_id.setdefault(rid, []).append((plen - HDR_BITS, dim, fam, proto,
                                          socket.ntohs(port_ne), addr, action, per,
                                          interval, burst_ns, pkind))
    default = default_fallback
    rules: dict[int, Rule] = {}
    for rid, ents in by_id.items():
        plen, dim, fam, proto, port, addr, action, per, interval, burst_ns, _ = ents[0]
        if rid == 0:
            default = action
            continue
        r = Rule(action)
        dports = {(e[4], e[4]) for e in ents if e[10] == P.PK_DPORT and e[4]}
        sports = {(e[4], e[4]) for e in ents if e[10] == P.PK_SPORT}
        for kind, lo, hi in meta.get(rid, ()):
            (dports if kind == P.PK_DCLASS else sports).add((lo, hi))
        r.ports, r.sports = P.normalize(dports), P.normalize(sports)
        protos = {e[3] for e in ents}
        if (r.ports or r.sports) and protos == {6, 17}:
            proto = 0
        r.proto = proto
        fams = {e[2] for e in ents}
        if rid in pair:
            (r.src, r.proto), (r.dst, _) = pair[rid][P.META_SRC], pair[rid][P.META_DST]
        elif not (plen == 0 and dim == SRC and (len(fams) == 2 or proto in (1, 58))):
            pfx = Prefix(fam, addr, plen)
            if dim == SRC:
                r.src = pfx
            else:
                r.dst = pfx
        if action == LIMIT:
            r.rate = max(1, round(1_000_000_000 / interval)) if interval else 0
            r.burst = burst_ns // interval if interval else 0
            for e in ents:
                if e[2] == V4:
                    r.per = e[7]
                else:
                    r.per6 = e[7]
        rules[rid] = r
    return rules, default
