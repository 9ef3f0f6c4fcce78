"""audit: security events (exec, opens of watched paths, TCP connections, privilege
changes, module loads, bpf(), ptrace) with their process context, filtered in the kernel
and matched against a policy whose rules alert, kill (bpf_send_signal) or deny (BPF LSM)."""

from __future__ import annotations

import os
import signal
import struct
import sys
import time

from .. import errors
from ..tools import _common

TYPE_CHECKING = False
if TYPE_CHECKING:            # annotations only: argparse is imported by the parser
    import argparse
from . import events as _events
from . import policy as _policy

HERE = os.path.dirname(os.path.abspath(__file__))

EXAMPLES = """examples:
    pybpf audit                          # execs, connections, privilege changes, ...
    pybpf audit --json                   # one JSON object per event
    pybpf audit -w /etc/shadow -w '/etc/ssh/*'   # also opens of these paths
    pybpf audit -e exec,priv -u 1000     # only these events, only user 1000
    pybpf audit --policy rules.toml      # rules: alert, kill or deny (see docs/security.md)
    pybpf audit --policy rules.toml --check   # check a policy and exit
    kill -HUP <pid>                      # reload the policy (it is also watched for changes)
"""

# the LSM object shares these maps with the tracepoint object: one policy, one stream
SHARED_MAPS = ("events", "drops", "settings", "rules", "exec_paths", "open_paths", "scratch")
ARRAYS = ("rules", "kind_rules")          # array maps: an absent entry is written as zeros


def parser() -> argparse.ArgumentParser:
    p = _common.ArgumentParser(prog="pybpf audit", description="Security audit with "
                               "alert/kill/deny policies", epilog=EXAMPLES)
    p.add_argument("-p", "--policy", metavar="FILE", help="TOML policy file (rules and "
                   "what to report); reloaded on SIGHUP and when it changes")
    p.add_argument("--check", action="store_true", help="check the policy and exit")
    p.add_argument("-e", "--events", metavar="LIST", help="events to report without a rule, "
                   f"comma-separated (default: {','.join(_policy.DEFAULT_EVENTS)})")
    p.add_argument("-w", "--watch", metavar="PATH", action="append", default=[],
                   help="report opens of this path ('/dir/*': of everything under it)")
    p.add_argument("-u", "--uid", metavar="USER", action="append", default=[],
                   type=_common.uid_arg, help="report only this user's events (repeatable; "
                   "rule matches are always reported)")
    p.add_argument("--cgroup", metavar="PATH", action="append", default=[],
                   help="report only this cgroup v2's events (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    return p


def load_policy(args) -> _policy.Policy:
    """The policy file (if any) with the command line's additions."""
    if args.policy:
        try:
            with open(args.policy, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise _policy.PolicyError(f"cannot read it: {e.strerror}",
                                      source=args.policy) from None
        except UnicodeDecodeError:
            raise _policy.PolicyError("not UTF-8 text", source=args.policy) from None
        pol = _policy.parse(text, args.policy)
    else:
        pol = _policy.Policy()
    if args.events:
        names = [e.strip() for e in args.events.split(",") if e.strip()]
        bad = [e for e in names if e not in _events.KIND_IDS]
        if bad:
            raise _policy.PolicyError(f"--events: unknown event {bad[0]!r} (known: "
                                      f"{', '.join(_events.KIND_IDS)})", source="command line")
        pol.events = set(names)
    for w in args.watch:
        reason = _policy.path_problem(w)
        if reason:
            raise _policy.PolicyError(f"--watch: {reason}", source="command line")
        pol.open_watch.append(w)
    pol.uids |= set(args.uid)
    pol.cgroups += args.cgroup
    return pol


def compile_tables(pol: _policy.Policy) -> _policy.Tables:
    try:
        ids = {c: _policy.cgroup_id(c) for c in pol.cgroups}
    except _policy.PolicyError as e:
        raise _policy.PolicyError(e.reason, pol.report_lines.get("cgroups"),
                                  pol.source) from None
    return _policy.Tables(pol, os.getpid(), ids)


def _tracepoint_exists(section: str) -> bool:
    """Whether tracefs has the tracepoint of a "tracepoint/<cat>/<name>" section."""
    cat, _, name = section.partition("/")[2].partition("/")
    from ..tracefs import root as tracefs_root
    try:
        root = tracefs_root()
    except errors.PybpfError:
        return True            # let the attach say what is wrong
    return os.path.isdir(os.path.join(root, "events", cat, name))


class Auditor:
    """The loaded programs and their tables; ``apply()`` installs a policy's tables (the
    difference from what is there), so a reload never stops the stream."""

    def __init__(self):
        self.obj = None
        self.lsm = None
        self.lsm_attached: set[str] = set()
        self.tables: dict[str, dict[bytes, bytes]] = {}
        self.missing: list[str] = []

    def open(self) -> None:
        import pybpf
        data, identity = _common.package_object(HERE, "audit")
        self.obj = pybpf.load(data, name="audit", cache_key=identity)
        try:
            # the exec program last: once an exec is reported, every hook is in place
            # (and apply() writes the settings last, so every table is too)
            names = sorted(self.obj.programs, key=lambda n: n == "audit_exec")
            for name in names:
                section = self.obj._program_spec(name).section
                if section.startswith("tracepoint/") and not _tracepoint_exists(section):
                    self.missing.append(section.split("/", 1)[1])
                    continue
                self.obj.attach([name])
        except BaseException:
            self.close()
            raise

    def apply(self, pol: _policy.Policy) -> None:
        tables = compile_tables(pol)
        deny = pol.deny_kinds()
        if deny:
            self._open_lsm(deny, pol)
        maps = self.obj.maps
        for name, new in tables.maps.items():
            old = self.tables.get(name, {})
            m = maps[name]
            for key, value in new.items():
                if old.get(key) != value:
                    m.update(key, value)
            for key in old.keys() - new.keys():
                if name in ARRAYS:
                    m.update(key, bytes(m.info().value_size))
                else:
                    try:
                        del m[key]
                    except errors.NotFoundError:
                        pass
        maps["settings"].update(struct.pack("<I", 0), tables.settings)
        self.tables = tables.maps

    def _open_lsm(self, kinds: set[str], pol: _policy.Policy) -> None:
        """Load and attach the deny programs (once each); a kernel without BPF LSM
        refuses, and the policy with it."""
        want = {"exec": "audit_deny_exec", "open": "audit_deny_open"}
        progs = {want[k] for k in kinds} - self.lsm_attached
        if not progs:
            return
        rule = next(r for r in pol.rules if r["action"] == "deny")
        try:
            if self.lsm is None:
                import pybpf
                data, identity = _common.package_object(HERE, "audit_lsm")
                self.lsm = pybpf.load(data, name="audit_lsm", cache_key=identity,
                                      maps={n: self.obj.maps[n] for n in SHARED_MAPS})
            for p in sorted(progs):
                self.lsm.attach([p])
                self.lsm_attached.add(p)
        except errors.NotSupportedError as e:
            raise _policy.PolicyError(
                f"rule {rule['name']!r}: deny needs BPF LSM, which this kernel refuses "
                f"({os.strerror(e.errno) if e.errno else e}): boot with lsm=...,bpf "
                "and BPF trampolines, or use kill", rule["line"], pol.source) from None

    def close(self) -> None:
        if self.lsm is not None:
            self.lsm.close()
            self.lsm = None
        if self.obj is not None:
            self.obj.close()
            self.obj = None

    def __enter__(self) -> "Auditor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Losses:
    """Reports events the kernel could not deliver (drops, key 0, per CPU) on stderr,
    and as {"event": "lost"} records in JSON mode; at most twice a second."""

    def __init__(self, counter_map, out: _common.Output):
        self.map, self.out = counter_map, out
        self.seen = 0
        self.next = 0.0

    def check(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self.next:
            return
        self.next = now + 0.5
        lost = sum(int.from_bytes(c, "little") for c in self.map[0])
        if lost > self.seen:
            _common.warn("audit", f"lost {lost - self.seen} events")
            if self.out.json:
                self.out.row("", {"event": "lost", "count": lost - self.seen, "total": lost})
            self.seen = lost


class Reloader:
    """Reloads the policy on SIGHUP or when its file changes; a bad policy is refused
    (said on stderr with its line) and the running one stays."""

    def __init__(self, args, auditor: Auditor, printer: _events.Printer):
        self.args, self.auditor, self.printer = args, auditor, printer
        self.requested = False
        self.stamp = self._stamp()
        self.next = 0.0

    def _stamp(self):
        if not self.args.policy:
            return None
        try:
            st = os.stat(self.args.policy)
            return (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            return None

    def on_sighup(self, signum, frame) -> None:
        self.requested = True

    def check(self) -> None:
        now = time.monotonic()
        if not self.requested and now < self.next:
            return
        self.next = now + 0.5
        stamp = self._stamp()
        if not self.requested and stamp == self.stamp:
            return
        self.requested, self.stamp = False, stamp
        try:
            pol = load_policy(self.args)
            self.auditor.apply(pol)
        except errors.PybpfError as e:
            _common.warn("audit", f"policy not reloaded, the previous one stays: {e}")
            return
        self.printer.rule_names = pol.rule_names()
        _common.warn("audit", f"policy reloaded: {len(pol.rules)} rules")


def _warn_unrunnable_deny(pol: _policy.Policy) -> None:
    """``--check`` loads nothing, so a deny rule this kernel would refuse at start (no BPF
    LSM) is said as a warning: the policy may be meant for another kernel."""
    deny = [r for r in pol.rules if r["action"] == "deny"]
    if not deny or os.geteuid() != 0:       # the probe loads a program: root only
        return
    from ..features import Features
    f = Features()
    if not f.has_lsm():     # the predicate `pybpf features` shows: lsm list, trampolines
        why = f.notes.get("lsm") or f"BPF trampolines: {f.notes.get('fentry')}"
        _common.warn("audit", f"line {deny[0]['line']}: rule {deny[0]['name']!r}: deny needs "
                     f"BPF LSM, which this kernel lacks ({why}): here the policy would be "
                     "refused at start")


def run(args, out: _common.Output) -> int:
    from ..ringbuf import RingBuffer

    pol = load_policy(args)
    if args.check:
        compile_tables(pol)
        print(f"{args.policy or 'policy'}: ok, {len(pol.rules)} rules")
        _warn_unrunnable_deny(pol)
        return 0
    _common.require_privileges("loading the audit's BPF programs")
    clock = _common.Clock()
    printer = _events.Printer(out, clock)
    printer.rule_names = pol.rule_names()
    with Auditor() as aud:
        aud.open()
        aud.apply(pol)
        for tp in aud.missing:
            _common.warn("audit", f"no {tp} tracepoint on this kernel: those events are "
                         "not reported" + (" (no loadable modules)" if tp.startswith("module")
                                           else ""))
        losses = Losses(aud.obj.maps["drops"], out)
        reloader = Reloader(args, aud, printer)
        signal.signal(signal.SIGHUP, reloader.on_sighup)
        with RingBuffer(aud.obj.maps["events"]) as rb:
            _common.stop_on_signals()
            try:
                printer.header()
                while True:
                    for rec in rb.poll(250):
                        # consumed once yielded: a Stop is held until it is shown
                        # (tools/_run.stream)
                        with _common.hold_stop:
                            _show(printer, rec)
                    out.flush()
                    losses.check()
                    reloader.check()
            except _common.Stop:
                pass
            for rec in rb.consume(present=True):       # (tools/_run.stream)
                _show(printer, rec)
            out.flush()
            losses.check(force=True)
            out.flush()
    return 0


def _show(printer: _events.Printer, rec) -> None:
    try:
        ev = _events.decode(rec, printer.rule_names)
    except ValueError as e:
        _common.warn("audit", f"bad record skipped: {e}")
        return
    printer.event(ev)


def main(argv: list[str] | None = None) -> int:
    """Signals, closed pipes and pybpf errors are handled by the ``pybpf`` command's
    conventions (tools/_common.run_main); a refused policy exits 2, as bad input does."""
    args = parser().parse_args(argv)
    try:
        return run(args, _common.Output(sys.stdout, json_lines=args.json))
    except _policy.PolicyError as e:
        print(f"pybpf audit: error: {e}", file=sys.stderr)
        return 2
