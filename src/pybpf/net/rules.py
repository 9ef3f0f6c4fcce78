"""Firewall rules: the one-line syntax, rule files (text or TOML), and each rule's own
trie keys (trie.py encodes whole rule sets).  Pure: no kernel, no root.

A rule is ``ACTION [PROTO] [from PREFIX] [to PREFIX] [port PORTS | sport PORTS] [rate N]
[burst N] [per N] [per6 N]`` (PORTS: ``80``, ``80,443``, ``6000-7000``); docs/firewall.md
explains the matching order.
"""

from __future__ import annotations

import socket
import struct

from ..errors import PybpfError
from . import portclass as P

ALLOW, DENY, LIMIT = 0, 1, 2
ACTION_NAMES = {ALLOW: "allow", DENY: "deny", LIMIT: "limit"}
_ACTIONS = {"allow": ALLOW, "accept": ALLOW, "pass": ALLOW,
            "deny": DENY, "drop": DENY, "block": DENY, "limit": LIMIT}
V4, V6 = 1, 2
SRC, DST = 0, 1
SPEC_NONE, SPEC_PROTO, SPEC_SRANGE, SPEC_DRANGE, SPEC_SPORT, SPEC_DPORT = 0, 1, 2, 3, 4, 5
SPEC_PORT = SPEC_DPORT
RANGE_MASK = sum(1 << (f * 16 + d * 8 + s) for f in (0, 1) for d in (SRC, DST)
                 for s in (SPEC_SRANGE, SPEC_DRANGE))
HDR_BITS = 48
PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132,
          "gre": 47, "esp": 50, "ah": 51}
PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 132: "sctp", 47: "gre",
               50: "esp", 51: "ah"}
_PORTED = (6, 17, 132)
MAX_RATE = 1_000_000_000          # packets per second: one per nanosecond

KEY = struct.Struct("<IBBBBH16s2x")    # struct fw_key (28 bytes)
VALUE = struct.Struct("<IBBBBQQ")      # struct fw_rule (24 bytes)
STATS = struct.Struct("<QQQQ")         # struct fw_stats
COUNTER = struct.Struct("<QQ")         # struct fw_counter
CONF = struct.Struct("<IIIIII")        # struct fw_conf
ACTION_COUNTERS = ("pass", "drop", "limited", "no-match", "non-ip", "malformed")


class gc_paused:
    """Pause the cyclic garbage collector: building 100,000 rules makes hundreds of
    thousands of small objects, and the collections they trigger (each walking all live
    rules) cost twice the work itself.  Nothing built here forms cycles."""

    def __enter__(self):
        import gc
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            import gc
            gc.enable()


class RuleError(PybpfError, ValueError):
    """A rule that cannot be parsed or encoded; ``line`` is its line in a file, if any."""

    def __init__(self, msg: str, line: int | None = None, source: str | None = None):
        self.msg, self.line, self.source = msg, line, source
        where = ""
        if source is not None and line is not None:
            where = f"{source}:{line}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + msg)


class Prefix:
    """An address prefix: family (V4/V6), 16 address bytes (IPv4 in the first 4), length."""

    __slots__ = ("family", "addr", "plen")

    def __init__(self, family: int, addr: bytes, plen: int):
        self.family, self.addr, self.plen = family, addr, plen

    def __eq__(self, other) -> bool:
        return isinstance(other, Prefix) and (self.family, self.addr, self.plen) == \
            (other.family, other.addr, other.plen)

    def __hash__(self) -> int:
        return hash((self.family, self.addr, self.plen))

    def __str__(self) -> str:
        if self.family == V4:
            return f"{socket.inet_ntop(socket.AF_INET, self.addr[:4])}/{self.plen}"
        return f"{socket.inet_ntop(socket.AF_INET6, self.addr)}/{self.plen}"


def parse_prefix(text: str) -> Prefix:
    """``10.0.0.0/8``, ``2001:db8::/32`` or a bare address (a /32 or /128)."""
    addr, slash, plen_s = text.partition("/")
    family = V6 if ":" in addr else V4
    try:
        raw = socket.inet_pton(socket.AF_INET6 if family == V6 else socket.AF_INET, addr)
    except OSError:
        raise RuleError(f"bad address {addr!r}") from None
    bits = 128 if family == V6 else 32
    if slash:
        if not plen_s.isdigit() or int(plen_s) > bits:
            raise RuleError(f"bad prefix length in {text!r} (0-{bits})")
        plen = int(plen_s)
    else:
        plen = bits
    value = int.from_bytes(raw, "big")
    if value & ((1 << (bits - plen)) - 1):
        raise RuleError(f"{text!r} has bits set after the prefix length")
    return Prefix(family, raw.ljust(16, b"\0"), plen)


class Rule:
    """One rule.  ``src``/``dst``: a Prefix or None (any); ``proto``: 0 = any;
    ``ports``/``sports``: destination / source port items ((lo, hi) pairs, portclass),
    empty = any (``port=N`` is one destination port); ``rate`` packets/s and ``burst``
    packets for limit rules; ``per``/``per6``: the source prefix length one bucket
    covers (32 / 128: each address its own)."""

    __slots__ = ("action", "src", "dst", "proto", "ports", "sports", "rate", "burst", "per",
                 "per6", "line")

    def __init__(self, action: int, src: Prefix | None = None, dst: Prefix | None = None,
                 proto: int = 0, port: int = 0, rate: int = 0, burst: int = 0,
                 per: int = 32, per6: int = 128, line: int | None = None,
                 ports: tuple = (), sports: tuple = ()):
        self.action, self.src, self.dst, self.proto = action, src, dst, proto
        self.ports = ((port, port),) if port else ports
        self.sports = sports
        self.rate, self.burst, self.per, self.per6, self.line = rate, burst, per, per6, line

    @property
    def port(self) -> int:
        """The destination port of a one-port rule, else 0."""
        p = self.ports
        return p[0][0] if len(p) == 1 and p[0][0] == p[0][1] else 0

    def is_pair(self) -> bool:
        """A two-address rule (``from A to B``): pairs.py encodes it."""
        return self.src is not None and self.dst is not None

    def has_ranges(self) -> bool:
        return bool(self.ports and P.ranges(self.ports) or
                    self.sports and P.ranges(self.sports))

    def match_text(self) -> str:
        """The match part of :meth:`text` (what identifies a rule across rule sets)."""
        parts = []
        if self.proto:
            parts.append(PROTO_NAMES.get(self.proto, f"proto {self.proto}"))
        if self.src is not None:
            parts.append(f"from {self.src}")
        if self.dst is not None:
            parts.append(f"to {self.dst}")
        if self.ports:
            parts.append(f"port {P.text(self.ports)}")
        if self.sports:
            parts.append(f"sport {P.text(self.sports)}")
        return " ".join(parts) or "any"

    def text(self) -> str:
        """The rule in the one-line syntax (parse_rule(r.text()) gives back an equal rule)."""
        out = f"{ACTION_NAMES[self.action]} {self.match_text()}"
        if self.action == LIMIT:
            out += f" rate {self.rate} burst {self.burst}"
            if self.per != 32:
                out += f" per {self.per}"
            if self.per6 != 128:
                out += f" per6 {self.per6}"
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, Rule) and self.text() == other.text()

    def __hash__(self) -> int:
        return hash(self.text())

    def __repr__(self) -> str:
        return f"Rule({self.text()!r})"

    def families(self) -> tuple[int, ...]:
        if self.src is not None:
            return (self.src.family,)
        if self.dst is not None:
            return (self.dst.family,)
        if self.proto == 1:
            return (V4,)
        if self.proto == 58:
            return (V6,)
        return (V4, V6)

    def protos(self) -> tuple[int, ...]:
        """The protocols of the rule's keys: a port rule that names none means TCP and
        UDP."""
        return (self.proto,) if self.proto or not (self.ports or self.sports) else (6, 17)

    def entries(self, classed=frozenset()) -> tuple[list[bytes], list[bytes], int]:
        """The trie keys of this rule's single ports (or of the rule, if it has no port),
        the matching values without their first 4 bytes (the rule id, given at encoding),
        and the rule's bits in the program's class mask (firewall.h).  One key per family,
        per protocol for a port rule that names none, and per single port.  Port ranges,
        and the single ports of a (protocol, PK_DCLASS/PK_SCLASS) in ``classed``, are keys
        of port classes, made for a whole rule set by trie.expand."""
        pfx, dim = self.dst, DST
        if pfx is None:
            pfx, dim = self.src, SRC
        elif self.src is not None:
            return [], [], 0         # a two-address rule: trie.expand makes its keys
        proto, action, ports = self.proto, self.action, self.ports
        port = ports[0][0] if len(ports) == 1 and ports[0][0] == ports[0][1] else 0
        if pfx is not None and not self.sports and not classed and (
                proto and (port or not ports) or not ports):
            spec = SPEC_DPORT if port else SPEC_PROTO if proto else SPEC_NONE
            # the common case, one key: a prefix with or without protocol and port
            fam, plen = pfx.family, pfx.plen
            per = self.per if fam == V4 else self.per6
            tk = (action, plen, spec, per, self.rate, self.burst)
            tail = _TAILS.get(tk)
            if tail is None:
                if len(_TAILS) > 4096:
                    _TAILS.clear()
                tail = _TAILS[tk] = _tail(action, plen, spec, per, self.rate, self.burst)
            return ([_KEY_PACK(HDR_BITS + plen, dim, fam, proto, 0, _htons(port), pfx.addr)],
                    [tail], 1 << ((fam - 1) * 16 + dim * 8 + spec))
        addr, plen = (pfx.addr, pfx.plen) if pfx is not None else (_ZERO16, 0)
        if self.ports or self.sports:
            kinds = [(SPEC_DPORT, P.PK_DPORT, _htons(p)) for p in P.singles(self.ports)]
            kinds += [(SPEC_SPORT, P.PK_SPORT, _htons(p)) for p in P.singles(self.sports)]
        else:
            kinds = [(SPEC_PROTO if proto else SPEC_NONE, P.PK_DPORT, 0)]
        keys, tails = [], []
        mask = 0
        for fam in self.families():
            per = self.per if fam == V4 else self.per6
            for spec, pk, port_ne in kinds:
                tail = _tail(action, plen, spec, per, self.rate, self.burst)
                ck = P.PK_DCLASS if pk == P.PK_DPORT else P.PK_SCLASS
                for pr in self.protos():
                    if port_ne and (pr, ck) in classed:
                        continue
                    mask |= 1 << ((fam - 1) * 16 + dim * 8 + spec)
                    keys.append(KEY.pack(HDR_BITS + plen, dim, fam, pr, pk, port_ne, addr))
                    tails.append(tail)
        return keys, tails, mask

    def keys(self) -> list[bytes]:
        return self.entries()[0]


_ZERO16 = bytes(16)
_htons = socket.htons
_KEY_PACK = KEY.pack
_TAILS: dict = {}        # a pure memo of packed rule values (a handful of distinct ones)


def _tail(action: int, plen: int, spec: int, per: int, rate: int, burst: int) -> bytes:
    interval = burst_ns = 0
    if action == LIMIT:
        interval = max(1, 1_000_000_000 // rate)
        burst_ns = interval * burst
    return _TAIL.pack(action, plen, spec, per, interval, burst_ns)
_TAIL = struct.Struct("<BBBBQQ")     # struct fw_rule after its id
_ID = struct.Struct("<I")


def _int(tok: str, what: str, lo: int, hi: int) -> int:
    if not tok.isdigit() or not lo <= int(tok) <= hi:
        raise RuleError(f"{what} must be a number from {lo} to {hi}, not {tok!r}")
    return int(tok)


def parse_rule(text: str, line: int | None = None) -> Rule:
    """One rule in the one-line syntax (RuleError with the reason otherwise)."""
    try:
        return _parse_rule(text, line)
    except RuleError as e:
        if e.line is None and line is not None:
            raise RuleError(e.msg, line) from None
        raise


def _parse_rule(text: str, line: int | None) -> Rule:
    toks = text.split("#", 1)[0].split()
    if not toks:
        raise RuleError("empty rule")
    action = _ACTIONS.get(toks[0].lower())
    if action is None:
        raise RuleError(f"unknown action {toks[0]!r} (allow, deny or limit)")
    r = Rule(action, line=line)
    seen = set()
    i = 1
    while i < len(toks):
        word = toks[i].lower()
        if word == "any":          # "allow any": matches everything (as text() writes it)
            i += 1
            continue
        if word in PROTOS or word in ("proto", "protocol"):
            if "proto" in seen:
                raise RuleError("protocol given twice")
            seen.add("proto")
            if word in PROTOS:
                r.proto = PROTOS[word]
                i += 1
                continue
            if i + 1 >= len(toks):
                raise RuleError(f"{word!r} needs a value")
            name = toks[i + 1].lower()
            r.proto = PROTOS[name] if name in PROTOS else _int(name, "protocol", 1, 255)
            i += 2
            continue
        if word in ("dport", "ports", "dports"):
            word = "port"
        elif word == "sports":
            word = "sport"
        if word not in ("from", "to", "port", "sport", "rate", "burst", "per", "per6"):
            raise RuleError(f"unexpected {toks[i]!r}")
        if word in seen:
            raise RuleError(f"{word!r} given twice")
        seen.add(word)
        if i + 1 >= len(toks):
            raise RuleError(f"{word!r} needs a value")
        val = toks[i + 1]
        i += 2
        if word in ("from", "to"):
            pfx = None if val.lower() == "any" else parse_prefix(val)
            if word == "from":
                r.src = pfx
            else:
                r.dst = pfx
        elif word in ("port", "sport"):
            try:
                items = P.parse_ports(val, word)
            except P.PortError as e:
                raise RuleError(str(e)) from None
            if word == "port":
                r.ports = items
            else:
                r.sports = items
        elif word == "rate":
            v = val.lower()
            for suffix in ("/s", "pps"):
                if v.endswith(suffix):
                    v = v[:-len(suffix)]
            r.rate = _int(v, "rate (packets/s)", 1, MAX_RATE)
        elif word == "burst":
            r.burst = _int(val, "burst (packets)", 1, 1 << 32)
        elif word == "per":
            r.per = _int(val, "per (IPv4 prefix length)", 0, 32)
        else:
            r.per6 = _int(val, "per6 (IPv6 prefix length)", 0, 128)
    return check(r, seen)


def check(r: Rule, given=()) -> Rule:
    """Refuse rules that cannot mean anything; fill a limit rule's defaults."""
    if r.src is not None and r.dst is not None and r.src.family != r.dst.family:
        raise RuleError(f"'from {r.src}' and 'to {r.dst}' are not of the same family")
    if r.ports and r.sports:
        raise RuleError("a rule matches one port: give 'port' or 'sport', not both")
    if (r.ports or r.sports) and r.proto and r.proto not in _PORTED:
        raise RuleError(f"'{'port' if r.ports else 'sport'}' needs tcp, udp or sctp, not "
                        f"{PROTO_NAMES.get(r.proto, r.proto)}")
    pfx = r.src or r.dst
    if pfx is not None and ((r.proto == 1 and pfx.family == V6) or
                            (r.proto == 58 and pfx.family == V4)):
        raise RuleError(f"{PROTO_NAMES[r.proto]} does not go with {pfx}")
    if r.action == LIMIT:
        if not r.rate:
            raise RuleError("a limit rule needs 'rate N' (packets per second)")
        if not r.burst:
            r.burst = r.rate
    elif {"rate", "burst", "per", "per6"} & set(given):
        raise RuleError("rate, burst and per only go with 'limit'")
    return r


class RuleSet:
    """Rules plus the default policy (allow or deny) for IP packets no rule matches."""

    def __init__(self, rules: list[Rule] | None = None, default: int | None = None):
        self.rules = list(rules or [])
        self.default = default      # None: keep whatever the loaded firewall has

    def __repr__(self) -> str:
        return f"RuleSet({len(self.rules)} rules, default={self.default})"


def parse_default(word: str, line: int | None = None, source: str | None = None) -> int:
    a = _ACTIONS.get(str(word).lower())
    if a not in (ALLOW, DENY):
        raise RuleError(f"default must be allow or deny, not {word!r}", line, source)
    return a


def parse_text(text: str, source: str | None = None) -> RuleSet:
    """A rules file in the text format: one rule per line, '#' comments, and an optional
    ``default allow|deny`` line."""
    rs = RuleSet()
    for n, raw in enumerate(text.splitlines(), 1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        if body.startswith("default"):
            parts = body.split()
            if len(parts) != 2:
                raise RuleError("expected 'default allow' or 'default deny'", n, source)
            rs.default = parse_default(parts[1], n, source)
            continue
        try:
            rs.rules.append(_parse_rule(body, n))
        except RuleError as e:
            raise RuleError(e.msg, n, source) from None
    return rs


_TABLE_KEYS = {"action", "proto", "from", "to", "port", "sport", "rate", "burst", "per",
               "per6"}


def parse_toml(text: str, source: str | None = None) -> RuleSet:
    """A TOML rules file: ``default = "deny"``, ``rules = ["allow tcp port 22", ...]``
    and/or ``[[rule]]`` tables with the same words as keys (``action = "allow"``, ...)."""
    import tomllib
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = None
        msg = str(e)
        import re
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        if m:
            line = int(m.group(1))
            msg = msg[:m.start()].strip()
        elif msg.endswith("(at end of document)"):
            line = text.count("\n") + 1
            msg = msg[:-len("(at end of document)")].strip()
        raise RuleError(f"TOML: {msg}", line, source) from None
    lines = text.splitlines()
    rs = RuleSet()
    unknown = set(doc) - {"default", "rules", "rule"}
    if unknown:
        k = sorted(unknown)[0]
        raise RuleError(f"unknown key {k!r} (default, rules, [[rule]])",
                        _find_line(lines, k, 0), source)
    if "default" in doc:
        rs.default = parse_default(doc["default"], _find_line(lines, "default", 0), source)
    one_liners = doc.get("rules", [])
    if not isinstance(one_liners, list):
        raise RuleError("'rules' must be a list of strings", _find_line(lines, "rules", 0),
                        source)
    after = 0
    for item in one_liners:
        line = _find_line(lines, item if isinstance(item, str) else "rules", after)
        after = line or after
        if not isinstance(item, str):
            raise RuleError(f"'rules' holds {type(item).__name__} {item!r}; expected a "
                            "string", line, source)
        try:
            rs.rules.append(_parse_rule(item, line))
        except RuleError as e:
            raise RuleError(e.msg, line, source) from None
    tables = doc.get("rule", [])
    if not isinstance(tables, list):
        raise RuleError("use [[rule]] (an array of tables)", _find_line(lines, "rule", 0),
                        source)
    heads = [n for n, ln in enumerate(lines, 1) if ln.strip().replace(" ", "") == "[[rule]]"]
    for i, t in enumerate(tables):
        line = heads[i] if i < len(heads) else None
        try:
            rs.rules.append(_from_table(t, line))
        except RuleError as e:
            raise RuleError(e.msg, line, source) from None
    return rs


def _find_line(lines: list[str], needle: str, after: int) -> int | None:
    for n in range(after, len(lines)):
        if needle in lines[n]:
            return n + 1
    return None


def _from_table(t: dict, line: int | None) -> Rule:
    bad = set(t) - _TABLE_KEYS
    if bad:
        raise RuleError(f"[[rule]]: unknown key {sorted(bad)[0]!r} "
                        f"({', '.join(sorted(_TABLE_KEYS))})")
    if "action" not in t:
        raise RuleError("[[rule]] needs an action (allow, deny or limit)")
    words = [str(t["action"])]
    for k in ("proto", "from", "to", "port", "sport", "rate", "burst", "per", "per6"):
        if k in t:
            v = t[k]
            if k in ("port", "sport") and isinstance(v, list) and v and all(
                    isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
                v = ",".join(str(x) for x in v)     # port = [80, 443, "8000-8100"]
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise RuleError(f"[[rule]]: {k} = {v!r} is not a string or number")
            if isinstance(v, str) and (not v or len(v.split()) != 1):
                raise RuleError(f"[[rule]]: {k} = {v!r} is not one word")
            words += [k, str(v)]
    return _parse_rule(" ".join(words), line)


def parse_file(path: str) -> RuleSet:
    """A rules file: TOML if it ends in .toml, else the text format."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise RuleError(f"cannot read rules file {path!r}: {e.strerror}") from None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    with gc_paused():
        if path.endswith(".toml"):
            return parse_toml(text, path)
        return parse_text(text, path)
