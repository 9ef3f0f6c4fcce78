"""Audit policies: a TOML file of rules (match conditions -> alert, kill or deny) and of
what to report, checked with the line and reason of every mistake, and compiled into the
kernel's tables (audit.h): LPM tries of paths, port and module-name hashes, per-kind rules.

The format is documented in docs/security.md.
"""

from __future__ import annotations

import os
import re
import struct

from ..errors import PybpfError
from .events import BPF_CMDS, KIND_IDS, PTRACE_REQUESTS

PATH_LEN = 256            # audit.h
MAX_RULES = 256
ACTIONS = {"alert": 1, "kill": 2, "deny": 3}
ACCESS = {"any": 0, "read": 1, "write": 2}
RULE = struct.Struct("<4I")          # struct rule
SETTINGS = struct.Struct("<6I")      # struct settings
PORT_KEY = struct.Struct("<HH")
ANY = 0xffffffff
DEFAULT_EVENTS = ("exec", "connect", "accept", "priv", "module", "bpf", "ptrace")

# the keys each event's rules may use, besides name, event, action and uid
_RULE_KEYS = {
    "exec": {"path", "memfd"},
    "open": {"path", "access"},
    "connect": {"port"},
    "accept": {"port"},
    "priv": {"to"},
    "module": {"module"},
    "bpf": {"cmd"},
    "ptrace": {"request"},
}
_REPORT_KEYS = {"events", "open", "uids", "cgroups"}


class PolicyError(PybpfError):
    """A policy the audit refuses: ``file:line: reason``."""

    def __init__(self, reason: str, line: int | None = None, source: str = "policy"):
        self.reason, self.line, self.source = reason, line, source
        super().__init__(f"{source}:{line}: {reason}" if line else f"{source}: {reason}")


class Policy:
    """A checked policy: what to report, and numbered rules (index 1.. in the kernel)."""

    def __init__(self, source: str = "policy"):
        self.source = source
        self.report_lines: dict[str, int | None] = {}    # [report] key -> its line
        self.events: set[str] = set(DEFAULT_EVENTS)
        self.open_watch: list[str] = []
        self.uids: set[int] = set()
        self.cgroups: list[str] = []
        self.rules: list[dict] = []          # each: name, event, action, conditions, line

    def rule_names(self) -> dict[int, str]:
        return {i + 1: r["name"] for i, r in enumerate(self.rules)}

    def deny_kinds(self) -> set[str]:
        return {r["event"] for r in self.rules if r["action"] == "deny"}


def _locate(text: str) -> dict:
    """Line numbers of rule tables and keys: {("rule", i, key|None): line,
    ("report", None, key): line} (tomllib gives values, not positions)."""
    where: dict = {}
    section, idx = None, -1
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("[[") and line.split("#")[0].strip().rstrip("]").lstrip("[") \
                .strip() == "rule":
            section, idx = "rule", idx + 1
            where[("rule", idx, None)] = n
        elif line.startswith("["):
            section = line.split("#")[0].strip().strip("[]").strip()
            where[(section, None, None)] = n
        else:
            m = re.match(r"([A-Za-z0-9_\-]+)\s*=", line)
            if m and section == "rule":
                where.setdefault(("rule", idx, m.group(1)), n)
            elif m:
                where.setdefault((section, None, m.group(1)), n)
    return where


def parse(text: str, source: str = "policy") -> Policy:
    """Check a policy's text; PolicyError names the line and the reason."""
    try:
        import tomllib
    except ImportError:                                  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise PolicyError("reading policies needs Python 3.11 (tomllib) or the tomli "
                              "package", source=source) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column \d+\)", str(e))
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise PolicyError(f"not valid TOML: {reason}", int(m.group(1)) if m else None,
                          source) from None
    where = _locate(text)
    pol = Policy(source)

    def fail(reason, *key):
        line = where.get(key) or where.get(key[:2] + (None,))
        raise PolicyError(reason, line, source)

    for top in doc:
        if top not in ("report", "rule"):
            fail(f"unknown table {top!r} (expected [report] and [[rule]])", top, None, None)
    report = doc.get("report", {})
    if not isinstance(report, dict):
        fail("'report' must be a table", "report", None, None)
    for key, val in report.items():
        at = ("report", None, key)
        pol.report_lines[key] = where.get(at)
        if key not in _REPORT_KEYS:
            fail(f"unknown key {key!r} in [report] (known: {', '.join(sorted(_REPORT_KEYS))})",
                 *at)
        if not isinstance(val, list):
            fail(f"report.{key} must be a list", *at)
        if key == "events":
            bad = [v for v in val if v not in KIND_IDS]
            if bad:
                fail(f"unknown event {bad[0]!r} (known: {', '.join(KIND_IDS)})", *at)
            pol.events = set(val)
        elif key == "open":
            for p in val:
                reason = path_problem(p)
                if reason:
                    fail(f"report.open: {reason}", *at)
            pol.open_watch = list(val)
        elif key == "uids":
            if not all(isinstance(u, int) and 0 <= u < ANY for u in val):
                fail("report.uids must be user ids (numbers)", *at)
            pol.uids = set(val)
        elif key == "cgroups":
            if not all(isinstance(c, str) for c in val):
                fail("report.cgroups must be cgroup directory paths", *at)
            pol.cgroups = list(val)

    rules = doc.get("rule", [])
    if not isinstance(rules, list):
        fail("'rule' must be an array of tables: [[rule]]", "rule", None, None)
    if len(rules) >= MAX_RULES:
        fail(f"too many rules ({len(rules)}; at most {MAX_RULES - 1})", "rule", 0, None)
    seen_names: set[str] = set()
    for i, r in enumerate(rules):
        def bad(reason, key=None, i=i):
            fail(reason, "rule", i, key)
        ev = r.get("event")
        if ev not in _RULE_KEYS:
            bad(f"rule needs event = one of {', '.join(_RULE_KEYS)} (got {ev!r})", "event")
        act = r.get("action", "alert")
        if act not in ACTIONS:
            bad(f"unknown action {act!r} (alert, kill or deny)", "action")
        name = r.get("name", f"rule{i + 1}")
        if not isinstance(name, str) or not name:
            bad("name must be a string", "name")
        if name in seen_names:
            bad(f"two rules are named {name!r}", "name")
        seen_names.add(name)
        allowed = {"name", "event", "action", "uid"} | _RULE_KEYS[ev]
        for key in r:
            if key not in allowed:
                bad(f"{ev} rules take no {key!r} (they take: "
                    f"{', '.join(sorted(allowed))})", key)
        uid = r.get("uid", ANY)
        if uid != ANY and not (isinstance(uid, int) and 0 <= uid < ANY):
            bad("uid must be a user id (a number)", "uid")
        rule = {"name": name, "event": ev, "action": act, "uid": uid,
                "line": where.get(("rule", i, None))}
        if "path" in r:
            reason = path_problem(r["path"])
            if reason:
                bad(reason, "path")
            rule["path"] = r["path"]
        if ev == "open" and "path" not in r:
            bad("open rules need a path (opens are only watched on given paths)")
        if "memfd" in r:
            if r["memfd"] is not True:
                bad("memfd must be true (exec of memfd or deleted files)", "memfd")
            if "path" in r:
                bad("an exec rule has either a path or memfd = true", "memfd")
            rule["memfd"] = True
        if "access" in r:
            if r["access"] not in ACCESS:
                bad(f"access must be read, write or any (got {r['access']!r})", "access")
            rule["access"] = ACCESS[r["access"]]
        if "port" in r:
            if not (isinstance(r["port"], int) and 0 < r["port"] < 65536):
                bad("port must be a number between 1 and 65535", "port")
            rule["port"] = r["port"]
        if "to" in r:
            if not (isinstance(r["to"], int) and 0 <= r["to"] < ANY):
                bad("to must be the user/group id asked for (a number)", "to")
            rule["arg"] = r["to"]
        if "module" in r:
            if not isinstance(r["module"], str) or not 0 < len(r["module"]) < 56:
                bad("module must be a module name", "module")
            rule["module"] = r["module"]
        if "cmd" in r:
            cmds = {v.lower(): k for k, v in BPF_CMDS.items()}
            if r["cmd"] not in cmds:
                bad(f"cmd must be one of {', '.join(cmds)}", "cmd")
            rule["arg"] = cmds[r["cmd"]]
        if "request" in r:
            reqs = {v.lower(): k for k, v in PTRACE_REQUESTS.items()}
            if r["request"] not in reqs:
                bad(f"request must be one of {', '.join(reqs)}", "request")
            rule["arg"] = reqs[r["request"]]
        if act == "deny" and not (ev in ("exec", "open") and "path" in r):
            bad("deny works on exec and open rules with a path (BPF LSM hooks "
                "bprm_check_security and file_open); use kill for the others", "action")
        pol.rules.append(rule)
    _check_overlaps(pol, fail)
    return pol


def _check_overlaps(pol: Policy, fail) -> None:
    """One rule per table key: two rules on the same path, port, module or event (with
    no key) would need the kernel to pick; the policy must say which."""
    owner: dict = {}
    for i, r in enumerate(pol.rules):
        if r["event"] in ("exec", "open") and "path" in r:
            key = (r["event"], "path", r["path"])
        elif r["event"] in ("connect", "accept") and "port" in r:
            key = (r["event"], "port", r["port"])
        elif r["event"] == "module" and "module" in r:
            key = ("module", "name", r["module"])
        elif r.get("memfd"):
            key = ("exec", "memfd")
        else:
            key = (r["event"], "any")
        if key in owner:
            fail(f"rules {owner[key]!r} and {r['name']!r} match the same "
                 f"{' '.join(str(k) for k in key)}: merge them into one", "rule", i, None)
        owner[key] = r["name"]


def path_problem(p) -> str | None:
    """Why a watched/rule path is unusable, or None.  "/x/*" is a prefix."""
    if not isinstance(p, str) or not p:
        return "a path must be a non-empty string"
    if not p.startswith("/"):
        return f"{p!r} is not absolute (paths are matched as the kernel resolves them)"
    if "\0" in p or len(p.encode()) > PATH_LEN - 2:
        return f"{p!r} is too long (at most {PATH_LEN - 2} bytes) or has a NUL"
    if "*" in p[:-1]:
        return f"{p!r}: '*' may only end a path (a prefix)"
    return None


def path_key(p: str) -> bytes:
    """An LPM trie key (struct path_key): "/a/b" matches that path only, "/a/*" every
    path starting with "/a/"."""
    if p.endswith("*"):
        raw = p[:-1].encode()
    else:
        raw = os.path.normpath(p).encode() + b"\0"
    return struct.pack("<I", 8 * len(raw)) + raw.ljust(PATH_LEN, b"\0")


class Tables:
    """A policy as the kernel's map contents: {map name: {key bytes: value bytes}}."""

    def __init__(self, pol: Policy, self_tgid: int, cgroup_ids: dict[str, int]):
        u32 = struct.Struct("<I").pack
        self.maps: dict[str, dict[bytes, bytes]] = {
            "rules": {}, "exec_paths": {}, "open_paths": {}, "kind_rules": {},
            "port_rules": {}, "module_rules": {}, "uids": {}, "cgroups": {}}
        m = self.maps
        memfd_rule = 0
        for p in pol.open_watch:
            m["open_paths"][path_key(p)] = u32(0)
        for i, r in enumerate(pol.rules, 1):
            m["rules"][u32(i)] = RULE.pack(ACTIONS[r["action"]], r["uid"],
                                           r.get("access", 0), r.get("arg", ANY))
            ev = r["event"]
            if "path" in r:
                m[f"{ev}_paths"][path_key(r["path"])] = u32(i)
            elif r.get("memfd"):
                memfd_rule = i
            elif "port" in r:
                m["port_rules"][PORT_KEY.pack(r["port"], KIND_IDS[ev])] = u32(i)
            elif "module" in r:
                m["module_rules"][r["module"].encode().ljust(56, b"\0")] = u32(i)
            else:
                m["kind_rules"][u32(KIND_IDS[ev])] = u32(i)
        for uid in pol.uids:
            m["uids"][u32(uid)] = b"\1"
        for path in pol.cgroups:
            m["cgroups"][struct.pack("<Q", cgroup_ids[path])] = b"\1"
        kinds = 0
        for ev in pol.events:
            kinds |= 1 << KIND_IDS[ev]
        if pol.open_watch:
            kinds |= 1 << KIND_IDS["open"]
        self.settings = SETTINGS.pack(kinds, self_tgid, 1 if pol.uids else 0,
                                      1 if pol.cgroups else 0, len(m["open_paths"]),
                                      memfd_rule)


def cgroup2_root() -> str:
    """Where the cgroup v2 hierarchy is mounted (hybrid systems: .../unified)."""
    hybrid = "/sys/fs/cgroup/unified"
    return hybrid if os.path.exists(os.path.join(hybrid, "cgroup.procs")) else "/sys/fs/cgroup"


def cgroup_id(path: str) -> int:
    """The id of a cgroup v2 directory (its inode number); a path relative to the
    hierarchy's root, or a full path."""
    root = cgroup2_root()
    full = path if path.startswith("/sys/fs/cgroup") else \
        os.path.join(root, path.lstrip("/"))
    try:
        st = os.stat(full)
    except OSError as e:
        raise PolicyError(f"cgroup {path!r}: {e.strerror}") from None
    return st.st_ino
