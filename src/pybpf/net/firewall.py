"""The firewall's control plane: load and pin the XDP/tc program on an interface, swap
rule sets in live, read counters, unload.

Everything lives under ``/sys/fs/bpf/pybpf/firewall/<iface>/`` (the link, the program and
its maps), so the program stays attached after the command exits, as xdp-filter's does.
A rule change builds a complete new LPM trie and swaps it into the one-slot array of maps
the program reads: the program is never detached, and each packet meets either the old
rule set or the new one (the kernel waits for running programs at the swap).
"""

from __future__ import annotations

import os
import struct
import time

from .. import errors
from ..maps import Map, MapSpec
from .._sys.uapi import MapType
from . import portclass as P
from . import rules as R
from . import trie as T

PIN_ROOT = "/sys/fs/bpf/pybpf/firewall"
NET_DIR = os.path.dirname(os.path.abspath(__file__))
MAPS = ("rulesets", "rule_stats", "action_stats", "conf", "buckets")
HOOKS = {1: ("xdp", "native"), 2: ("xdp", "generic"), 3: ("tc", "ingress"),
         4: ("tc", "egress")}
DEFAULT_CAPACITY = 131072
_NO_PREALLOC = 1
_U32 = struct.Struct("<I")


class FirewallError(errors.PybpfError):
    """A firewall operation that cannot be done; the message says why and what to do."""


def pin_dir(iface: str, root: str = PIN_ROOT) -> str:
    if not iface or "/" in iface or iface in (".", "..") or len(iface) > 15:
        raise FirewallError(f"bad interface name {iface!r}")
    return os.path.join(root, iface)


def ifindex(iface: str) -> int:
    import socket
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        raise FirewallError(f"unknown interface {iface!r} (see 'ip link')") from None


def loaded(root: str = PIN_ROOT) -> list[str]:
    """Interfaces with a firewall pinned."""
    try:
        return sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
    except FileNotFoundError:
        return []


def xdp_attached(iface: str) -> tuple[int, str, str] | None:
    """(program id, name, mode) of the XDP program attached to ``iface``, if any."""
    from pyroute2 import IPRoute
    from .. import info
    with IPRoute() as ipr:
        links = ipr.get_links(ifindex(iface))
    xdp = links[0].get_attr("IFLA_XDP") if links else None
    if xdp is None:
        return None
    prog_id = xdp.get_attr("IFLA_XDP_PROG_ID")
    if not prog_id:
        return None
    modes = {1: "native", 2: "generic", 3: "offload", 4: "multi"}
    mode = modes.get(xdp.get_attr("IFLA_XDP_ATTACHED"), "?")
    try:
        fd = info.fd_by_id("prog", prog_id)
        with fd:
            name = info.prog_info(fd.fileno()).name
    except errors.KernelError:
        name = "?"
    return prog_id, name, mode


def object_name(release: str | None = None) -> str:
    """The firewall object for this kernel: compare-and-swap from 5.12, else the build
    without it (firewall_nocas.bpf.c)."""
    from ..kernelid import release_tuple
    return "firewall" if release_tuple(release) >= (5, 12) else "firewall_nocas"


def _object(capacity: int):
    """The firewall's BPF object (built into the package, else compiled once and cached),
    its rule capacity set before load."""
    import pybpf
    from ..tools._common import tool_object
    obj, _ = tool_object(object_name(), NET_DIR)
    spec = pybpf.ObjectSpec.from_bytes(obj, name="firewall")
    if capacity != DEFAULT_CAPACITY:
        spec.maps["rules0"].max_entries = capacity
        spec.maps["rulesets"].inner.max_entries = capacity
        spec.maps["rule_stats"].max_entries = capacity
    return spec


class Firewall:
    """A firewall pinned on one interface: apply rule sets, read rules and counters."""

    def __init__(self, iface: str | None, maps: dict[str, Map], root: str = PIN_ROOT,
                 obj=None):
        self.iface, self.maps, self.root = iface, maps, root
        self.dir = pin_dir(iface, root) if iface is not None else None
        self.obj = obj              # the loaded object, for an unattached firewall

    @classmethod
    def unattached(cls, ruleset: R.RuleSet | None = None,
                   capacity: int = DEFAULT_CAPACITY) -> "Firewall":
        """A firewall loaded but neither attached nor pinned, to run its programs with
        BPF_PROG_TEST_RUN (``fw.obj.programs["firewall_xdp"]``); close() frees it."""
        import pybpf
        obj = pybpf.load(_object(capacity))
        fw = cls(None, {n: obj.maps[n] for n in MAPS}, obj=obj)
        try:
            fw._write_conf(mask=0, hook=0, capacity=capacity)
            fw.apply(ruleset or R.RuleSet(default=R.ALLOW))
        except BaseException:
            obj.close()
            raise
        return fw

    # -- opening, loading, unloading ------------------------------------------------------
    @classmethod
    def open(cls, iface: str, root: str = PIN_ROOT) -> "Firewall":
        d = pin_dir(iface, root)
        if not os.path.isdir(d):
            raise FirewallError(f"no firewall loaded on {iface} (nothing pinned at {d})")
        maps: dict[str, Map] = {}
        try:
            for name in MAPS:
                maps[name] = Map.from_pin(os.path.join(d, name))
        except errors.KernelError as e:
            for m in maps.values():
                m.close()
            raise FirewallError(f"firewall pins at {d} are incomplete ({e}); "
                                f"run 'pybpf firewall unload {iface}'") from None
        return cls(iface, maps, root)

    @classmethod
    def load(cls, iface: str, ruleset: R.RuleSet | None = None, *, hook: str = "auto",
             mode: str = "auto", egress: bool = False, capacity: int = DEFAULT_CAPACITY,
             root: str = PIN_ROOT) -> "Firewall":
        """Load, apply ``ruleset`` (before attaching: no packet meets an empty rule set),
        attach and pin.  ``hook``: xdp, tc or auto (XDP, else tc); ``mode`` for XDP:
        native, generic or auto (native where the driver has it)."""
        import pybpf
        from .. import bpffs
        d = pin_dir(iface, root)
        ifindex(iface)
        if os.path.isdir(d):
            raise FirewallError(f"a firewall is already loaded on {iface}: "
                                f"{describe(iface, root)}; change its rules with 'pybpf "
                                f"firewall apply' or remove it with 'pybpf firewall "
                                f"unload {iface}'")
        if egress:
            hook = "tc"
        if hook in ("auto", "xdp"):
            other = xdp_attached(iface)
            if other is not None:
                raise FirewallError(f"another XDP program is attached to {iface}: id "
                                    f"{other[0]} {other[1]!r} ({other[2]}); detach it first "
                                    f"(ip link set dev {iface} xdp off) or use --hook tc")
        if not 16 <= capacity <= 1 << 24:
            raise FirewallError("capacity must be from 16 to 16777216 rules")
        ruleset = ruleset or R.RuleSet()
        if ruleset.default is None:
            ruleset.default = R.ALLOW
        with pybpf.load(_object(capacity)) as obj:
            fw = cls(iface, {n: obj.maps[n] for n in MAPS}, root)
            fw._write_conf(mask=0, hook=0, capacity=capacity)
            fw.apply(ruleset)
            link, code = _attach(obj, iface, hook, mode, egress)
            fw._write_conf(hook=code)
            bpffs.ensure_mounted()
            os.makedirs(d, mode=0o700, exist_ok=True)
            try:
                link.pin(os.path.join(d, "link"))
                prog = obj.programs["firewall_tc" if code >= 3 else "firewall_xdp"]
                prog.pin(os.path.join(d, "prog"))
                for n in MAPS:
                    obj.maps[n].pin(os.path.join(d, n))
            except BaseException:
                link.close()
                _remove_pins(d)
                raise
            link.close()
        return cls.open(iface, root)

    def close(self) -> None:
        for m in self.maps.values():
            m.close()
        self.maps = {}
        if self.obj is not None:
            self.obj.close()
            self.obj = None

    def __enter__(self) -> "Firewall":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- conf ---------------------------------------------------------------------------
    def conf(self) -> tuple[int, int, int, int]:
        """(class mask, hook code, capacity, next unused rule id) from the conf map; the
        mask's bits 32 and up are the two-address classes (conf's pmask)."""
        raw = self.maps["conf"].lookup_raw(0)
        if len(raw) != R.CONF.size:
            # pins of a firewall loaded by a pybpf with another layout
            raise FirewallError(f"the firewall on {self.iface} was loaded by another pybpf "
                                f"version; unload it and load it again")
        mask, hook, cap, next_id, pmask, _ = R.CONF.unpack(raw)
        return mask | pmask << 32, hook, cap, next_id

    def _write_conf(self, mask: int | None = None, hook: int | None = None,
                    capacity: int | None = None, next_id: int | None = None) -> None:
        self.conf()                     # the layout check
        cur = list(R.CONF.unpack(self.maps["conf"].lookup_raw(0)))
        for i, v in enumerate((mask, hook, capacity, next_id)):
            if v is not None:
                cur[i] = v
        if mask is not None:
            cur[0], cur[4] = mask & 0xFFFFFFFF, mask >> 32
        self.maps["conf"].update(0, R.CONF.pack(*cur))

    # -- rules --------------------------------------------------------------------------
    def _trie(self) -> Map:
        return Map.from_id(int.from_bytes(self.maps["rulesets"].lookup_raw(0), "little"))

    def rules(self) -> tuple[dict[int, R.Rule], int]:
        """The live rules by id, and the default policy."""
        with self._trie() as t:
            return T.decode(t.items_raw())

    def _locked(self):
        """Serialise rule changes on this interface (a lock on its pin directory)."""
        import contextlib
        import fcntl

        @contextlib.contextmanager
        def held():
            fd = None
            if self.dir and os.path.isdir(self.dir):
                fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                with R.gc_paused():
                    yield
            finally:
                if fd is not None:
                    os.close(fd)
        return held()

    def apply(self, ruleset: R.RuleSet) -> dict:
        """Replace the live rule set by ``ruleset`` (its default kept if None) in one swap.
        Unchanged rules keep their ids and counters.  Returns what was done and how long
        it took."""
        t0 = time.perf_counter()
        with self._locked():
            return self._apply(ruleset, t0)

    def add(self, rules: list[R.Rule]) -> dict:
        """Add rules to the live set in place: their entries go into the live trie in one
        batch update, so a packet meets the set with or without each new rule (both are
        rule sets the user asked for).  A rule matching everything of a family replaces
        the default policy: that goes through a whole-set swap, as does running out of
        fresh ids."""
        t0 = time.perf_counter()
        with self._locked():
            mask_now, _, capacity, next_id = self.conf()
            entries = [r.entries() for r in rules]
            ids = list(range(next_id, next_id + len(rules)))
            # port ranges change the set's port classes, and with classes every port
            # rule is class keys: a whole-set swap
            fallback = next_id == 0 or ids and ids[-1] >= capacity or any(
                r.has_ranges() or r.is_pair() or (mask_now & R.RANGE_MASK and (
                    r.ports or r.sports)) for r in rules)
            with self._trie() as t:
                if not fallback:
                    for r, (ks, _, _) in zip(rules, entries):
                        for k in ks:
                            # a lookup is longest-prefix: only an entry of the same
                            # length (value byte 5) is this very key
                            v = t.lookup_raw(k)
                            if v is None or v[5] != _U32.unpack_from(k)[0] - R.HDR_BITS:
                                continue
                            rid = _U32.unpack_from(v)[0]
                            if rid == 0:
                                fallback = True
                                break
                            raise R.RuleError(f"'{r.text()}' has the same match as rule {rid}",
                                              r.line)
                if fallback:
                    cur, default = T.decode(t.items_raw())
                    res = self._apply(R.RuleSet([r for _, r in sorted(cur.items())] + rules,
                                                default), t0)
                    res.update(rules=len(rules), in_place=False)
                    return res
                keys, vals, n, mask = T.encode(rules, ids, None, entries)
                if ids:
                    st = self.maps["rule_stats"]
                    st.update_batch(b"".join(_U32.pack(i) for i in ids),
                                    bytes(st._vbuf_size) * len(ids))
                self._write_conf(mask=mask_now | mask, next_id=next_id + len(rules))
                try:
                    if n:
                        # checked absent above, under the lock (batch updates take no
                        # BPF_NOEXIST: the generic batch op allows only BPF_F_LOCK)
                        t.update_batch(keys, vals)
                except errors.KernelError as e:
                    for i in range(n):       # all or nothing
                        try:
                            del t[keys[i * R.KEY.size:(i + 1) * R.KEY.size]]
                        except KeyError:
                            pass
                    if e.errno in (7, 28):    # E2BIG / ENOSPC: the trie is full
                        raise R.RuleError(f"the trie is full ({capacity} entries); load "
                                          "the firewall with a larger --capacity") from None
                    raise
        return {"rules": len(rules), "entries": n, "new_ids": len(ids), "in_place": True,
                "default": "", "seconds": time.perf_counter() - t0}

    def delete(self, targets: list) -> dict:
        """Delete rules in place, given as Rule objects (matched by their text) or ids.
        The default policy (id 0) cannot be deleted: set another one instead."""
        t0 = time.perf_counter()
        if self.conf()[0] & (R.RANGE_MASK | 0xFFFF << 32):
            # a range rule gone may hand its ports to a wider range, a two-address rule
            # its entries to an enclosing one: a whole-set swap
            with self._locked():
                return self._delete_by_swap(targets, t0)
        with self._locked(), self._trie() as t:
            doomed: list[bytes] = []
            by_id = None
            for tg in targets:
                if isinstance(tg, int):
                    if tg == 0:
                        raise R.RuleError("rule 0 is the default policy: set it with "
                                          "--default instead")
                    if by_id is None:
                        by_id = {}
                        for k, v in t.items_raw():
                            by_id.setdefault(_U32.unpack_from(v)[0], []).append(k)
                    if tg not in by_id or tg == P.NOT_A_RULE:
                        raise R.RuleError(f"no rule with id {tg}")
                    doomed += by_id.pop(tg)
                    continue
                ks, tails, _ = tg.entries()
                v = t.lookup_raw(ks[0])
                if v is None or v[4:] != tails[0] or v[:4] == b"\0\0\0\0" or any(
                        t.lookup_raw(k) != v[:4] + tl for k, tl in zip(ks[1:], tails[1:])):
                    raise R.RuleError(f"no rule '{tg.text()}' (see 'pybpf firewall status')")
                doomed += ks
            for k in doomed:
                try:
                    del t[k]
                except KeyError:
                    pass
        # the class mask may keep classes with no rules left: harmless, fixed by the
        # next whole-set swap
        return {"rules": len(targets), "entries": len(doomed), "in_place": True,
                "default": "", "seconds": time.perf_counter() - t0}

    def _delete_by_swap(self, targets: list, t0: float) -> dict:
        with self._trie() as t:
            cur, default = T.decode(t.items_raw())
        by_text = {r.text(): rid for rid, r in cur.items()}
        for tg in targets:
            if isinstance(tg, int):
                if tg == 0:
                    raise R.RuleError("rule 0 is the default policy: set it with "
                                      "--default instead")
                if cur.pop(tg, None) is None:
                    raise R.RuleError(f"no rule with id {tg}")
            else:
                rid = by_text.get(tg.text())
                if rid is None or cur.pop(rid, None) is None:
                    raise R.RuleError(f"no rule '{tg.text()}' (see 'pybpf firewall status')")
        res = self._apply(R.RuleSet([r for _, r in sorted(cur.items())], default), t0)
        res.update(rules=len(targets), in_place=False)
        return res

    def _apply(self, ruleset: R.RuleSet, t0: float) -> dict:
        mask_now, _, capacity, _ = self.conf()
        with self._trie() as t:
            old = dict(t.items_raw())             # key -> value (id + rule), one batch read
        old_default = T.default_of(old)
        default = old_default if ruleset.default is None else ruleset.default
        # A rule keeps its id (and counters) when the old trie has exactly its entries:
        # the same keys, all under one id, with the same action and parameters.  (Port
        # range rules: the same text, as their class keys follow the other ranges.)
        per_id: dict[bytes, int] = {}
        for v in old.values():
            per_id[v[:4]] = per_id.get(v[:4], 0) + 1
        per_id.pop(_U32.pack(P.NOT_A_RULE), None)
        taken = {_U32.unpack(i)[0] for i in per_id} | {0}
        entries, pmap = T.expand(ruleset.rules)
        # With ranges, port rules are class keys, which follow the other rules' ports:
        # such a rule keeps its id by its text.
        # Two-address rules too: their entries follow the enclosing rules.
        ranges = any(r.has_ranges() for r in ruleset.rules)
        by_text = ranges or any(r.is_pair() for r in ruleset.rules)
        old_ported: dict[str, int] = {}
        if by_text:
            # only entries with a port, a class or a record: those rules' (key bytes: 4
            # dim, 7 pkind, 8-9 port; firewall.h)
            old_ported = {r.text(): rid for rid, r in T.decode(
                (k, v) for k, v in old.items() if k[4] >= 2 or k[7] or k[8] or k[9]
            )[0].items() if r.ports or r.sports or r.is_pair()}
        ids: list[int] = []
        fresh: list[int] = [0] if default != old_default else []
        used: set[int] = set()
        old_get, unpack = old.get, _U32.unpack
        for rule, (ks, tails, _) in zip(ruleset.rules, entries):
            rid = -1
            if rule.is_pair() or ranges and (rule.ports or rule.sports):
                rid = old_ported.get(rule.text(), -1) if old_ported else -1
                if rid in used:
                    rid = -1
                if rid > 0:
                    used.add(rid)
                ids.append(rid)
                continue
            v = old_get(ks[0])
            if v is not None and v[4:] == tails[0]:
                idb = v[:4]
                if per_id[idb] == len(ks) and (len(ks) == 1 or all(
                        old_get(k) == idb + tl for k, tl in zip(ks[1:], tails[1:]))):
                    rid = unpack(idb)[0]
                    if rid in used or rid == 0:
                        rid = -1
                    else:
                        used.add(rid)
            ids.append(rid)
        nxt = 1
        spare = iter(sorted(taken - used - {0}))   # old ids no longer used, last resort
        for i, rid in enumerate(ids):
            if rid >= 0:
                continue
            while nxt < capacity and (nxt in taken or nxt in used):
                nxt += 1
            if nxt < capacity:
                rid, nxt = nxt, nxt + 1
            else:
                rid = next(spare, None)
                if rid is None:
                    raise R.RuleError(f"{len(ruleset.rules)} rules: more than this "
                                      f"firewall's capacity ({capacity - 1}); load it with "
                                      "a larger --capacity")
            ids[i] = rid
            used.add(rid)
            fresh.append(rid)
        keys, vals, n, mask = T.encode(ruleset.rules, ids, default, entries, pmap)
        if n > capacity:
            raise R.RuleError(f"the rules need {n} trie entries; this firewall holds "
                              f"{capacity} (load it with a larger --capacity)")
        t_encoded = time.perf_counter()
        if fresh:       # new rules start from zero, whatever their id counted before
            st = self.maps["rule_stats"]
            zero = bytes(st._vbuf_size)
            st.update_batch(b"".join(_U32.pack(i) for i in fresh), zero * len(fresh))
        trie = Map.create(MapSpec("fw_rules", MapType.LPM_TRIE, R.KEY.size, R.VALUE.size,
                                  capacity, _NO_PREALLOC))
        with trie:
            if n:
                trie.update_batch(keys, vals)
            t_filled = time.perf_counter()
            # The class mask lets the program skip empty lookups; it must never lack a
            # class the live trie has, so: widen, swap, narrow.
            self._write_conf(mask=mask_now | mask)
            self.maps["rulesets"].update(0, trie)      # waits for running programs (RCU)
            self._write_conf(mask=mask, next_id=max(taken | used) + 1)
        t1 = time.perf_counter()
        return {"rules": len(ruleset.rules), "entries": n, "new_ids": len(fresh),
                "default": R.ACTION_NAMES[default], "seconds": t1 - t0,
                "encode_seconds": t_encoded - t0, "fill_seconds": t_filled - t_encoded,
                "swap_seconds": t1 - t_filled}

    # -- counters -----------------------------------------------------------------------
    def rule_counters(self, ids) -> dict[int, tuple[int, int, int, int]]:
        """(packets, bytes, limited, limited bytes) per rule id, summed over CPUs."""
        st = self.maps["rule_stats"]
        ids = list(ids)
        out = {}
        if len(ids) > 1024:
            want = set(ids)
            raws = ((k, v) for k, v in st.items_raw() if _U32.unpack(k)[0] in want)
        else:
            raws = ((_U32.pack(i), st.lookup_raw(i)) for i in ids)
        slot = st._slot
        for k, raw in raws:
            tot = [0, 0, 0, 0]
            for c in range(st.ncpus):
                for j, v in enumerate(R.STATS.unpack_from(raw, c * slot)):
                    tot[j] += v
            out[_U32.unpack(k)[0]] = tuple(tot)
        return out

    def action_counters(self) -> dict[str, tuple[int, int]]:
        m = self.maps["action_stats"]
        out = {}
        for i, name in enumerate(R.ACTION_COUNTERS):
            raw = m.lookup_raw(i)
            p = b = 0
            for c in range(m.ncpus):
                pp, bb = R.COUNTER.unpack_from(raw, c * m._slot)
                p += pp
                b += bb
            out[name] = (p, b)
        return out

    def status(self) -> dict:
        """Everything `pybpf firewall status` shows, as plain data."""
        from .. import info
        mask, hook, capacity, _ = self.conf()
        rules, default = self.rules()
        counters = self.rule_counters([0, *rules])
        kind, mode = HOOKS.get(hook, ("?", "?"))
        prog_id = link_id = None
        prog_name = ""
        try:
            from ..links.base import Link
            if self.dir is None:
                raise FileNotFoundError("not attached")
            with Link.from_pin(os.path.join(self.dir, "link")) as link:
                li = link.info()
                link_id, prog_id = li.id, li.prog_id
            with info.fd_by_id("prog", prog_id) as fd:
                prog_name = info.prog_info(fd.fileno()).name
        except (errors.KernelError, OSError):
            pass
        rows = [{"id": 0, "rule": f"default {R.ACTION_NAMES[default]}",
                 "action": R.ACTION_NAMES[default]}]
        rows += [{"id": rid, "rule": r.text(), "action": R.ACTION_NAMES[r.action]}
                 for rid, r in sorted(rules.items())]
        for row in rows:
            p, b, lim, limb = counters.get(row["id"], (0, 0, 0, 0))
            row.update(packets=p, bytes=b, limited=lim, limited_bytes=limb)
        return {"interface": self.iface, "hook": kind, "mode": mode,
                "program": {"id": prog_id, "name": prog_name}, "link": {"id": link_id},
                "capacity": capacity, "default": R.ACTION_NAMES[default],
                "rules": rows,
                "actions": {k: {"packets": p, "bytes": b}
                            for k, (p, b) in self.action_counters().items()}}


def _attach(obj, iface: str, hook: str, mode: str, egress: bool):
    """Attach the right program; returns (link, hook code for conf)."""
    from ..links import tc, xdp
    if hook in ("auto", "xdp"):
        prog = obj.programs["firewall_xdp"]
        tries = ["native", "generic"] if mode == "auto" else [mode]
        last: Exception | None = None
        for m in tries:
            try:
                return xdp.attach(prog, iface, mode=m), 1 if m == "native" else 2
            except errors.NotSupportedError as e:
                last = e
            except errors.KernelError as e:
                if e.errno in (16, 17):      # EBUSY / EEXIST: attached meanwhile
                    other = xdp_attached(iface)
                    who = f": id {other[0]} {other[1]!r}" if other else ""
                    raise FirewallError(f"another XDP program is attached to {iface}{who}")\
                        from None
                last = e
        if hook == "xdp":
            raise FirewallError(f"no XDP support on {iface} ({mode} mode): {last}; "
                                "try --hook tc") from None
    direction = "egress" if egress else "ingress"
    try:
        return (tc.attach(obj.programs["firewall_tc"], iface, direction, mode="tcx"),
                4 if egress else 3)
    except errors.NotSupportedError as e:
        raise FirewallError(f"cannot attach to {iface}: {e} (a firewall that outlives the "
                            "command needs XDP or tcx links)") from None


def describe(iface: str, root: str = PIN_ROOT) -> str:
    """One line on the firewall loaded on ``iface`` (for 'already loaded' messages)."""
    try:
        with Firewall.open(iface, root) as fw:
            st = fw.status()
    except (FirewallError, errors.PybpfError, OSError) as e:
        return f"pins at {pin_dir(iface, root)} ({e})"
    return (f"{st['hook']} ({st['mode']}), program id {st['program']['id']}, "
            f"{len(st['rules']) - 1} rules, default {st['default']}")


def _remove_pins(d: str) -> list[str]:
    removed = []
    link = os.path.join(d, "link")
    if os.path.exists(link):
        from ..links.base import Link
        try:
            Link.from_pin(link).detach()
        except errors.KernelError:
            pass             # the interface is gone: the link is already defunct
    for name in ("link", "prog", *MAPS):
        p = os.path.join(d, name)
        if os.path.exists(p):
            os.unlink(p)
            removed.append(p)
    for extra in os.listdir(d) if os.path.isdir(d) else ():
        p = os.path.join(d, extra)
        os.unlink(p)
        removed.append(p)
    for p in (d, os.path.dirname(d), os.path.dirname(os.path.dirname(d))):
        try:
            os.rmdir(p)               # parents only if empty: other firewalls stay
        except OSError:
            break
    return removed


def unload(iface: str, root: str = PIN_ROOT) -> list[str]:
    """Detach the firewall of ``iface`` and remove everything it pinned."""
    d = pin_dir(iface, root)
    if not os.path.isdir(d):
        raise FirewallError(f"no firewall loaded on {iface} (nothing pinned at {d})")
    return _remove_pins(d)
