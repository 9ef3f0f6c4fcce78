"""pybpf firewall: an XDP (or tc) firewall with per-source rate limits, rules applied live.

  pybpf firewall load IFACE [--rules FILE] [-r RULE]... [--default allow|deny]
  pybpf firewall apply IFACE [--rules FILE] [-r RULE]... [--default ...]   (replace rules)
  pybpf firewall add IFACE RULE... | delete IFACE RULE-or-ID...
  pybpf firewall status [IFACE] [--json]
  pybpf firewall unload IFACE
  pybpf firewall check FILE                                             (parse only)

Rules: ACTION [PROTO] [from PREFIX | to PREFIX] [port N] [rate N] [burst N] [per N]
e.g. 'deny from 198.51.100.0/24', 'allow tcp port 22', 'limit udp rate 1000 burst 2000'.
See docs/firewall.md.
"""

from __future__ import annotations

import sys

from .. import errors

_EPILOG = __doc__.split("\n\n", 2)[2]


def _parser():
    import argparse
    from ..tools._common import help_formatter
    p = argparse.ArgumentParser(prog="pybpf firewall", description=__doc__.split("\n")[0],
                                epilog=_EPILOG, formatter_class=help_formatter())
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True

    def rule_args(sp, default_help):
        sp.add_argument("--rules", "-f", metavar="FILE",
                        help="rules file (.toml, or text: one rule per line)")
        sp.add_argument("--rule", "-r", action="append", default=[], metavar="RULE",
                        help="a rule (repeatable), after the file's")
        sp.add_argument("--default", choices=("allow", "deny"), help=default_help)

    ld = sub.add_parser("load", help="load, attach and pin on an interface")
    ld.add_argument("iface")
    rule_args(ld, "policy for IP packets no rule matches (default: allow)")
    ld.add_argument("--hook", choices=("auto", "xdp", "tc"), default="auto",
                    help="auto: XDP, else tc (tcx)")
    ld.add_argument("--mode", choices=("auto", "native", "generic"), default="auto",
                    help="XDP mode (auto: native where the driver has it)")
    ld.add_argument("--egress", action="store_true", help="filter outgoing packets (tc)")
    ld.add_argument("--capacity", type=int, default=131072,
                    help="most trie entries (rules) the firewall can hold")
    ap = sub.add_parser("apply", help="replace the rule set, live")
    ap.add_argument("iface")
    rule_args(ap, "new default policy (default: keep)")
    ad = sub.add_parser("add", help="add rules, live")
    ad.add_argument("iface")
    ad.add_argument("rule", nargs="+")
    de = sub.add_parser("delete", help="delete rules (by text or id), live")
    de.add_argument("iface")
    de.add_argument("rule", nargs="+")
    st = sub.add_parser("status", help="rules with counters, per-action counters")
    st.add_argument("iface", nargs="?")
    st.add_argument("--json", action="store_true")
    ul = sub.add_parser("unload", help="detach and remove everything pinned")
    ul.add_argument("iface")
    ck = sub.add_parser("check", help="parse a rules file and print its rules")
    ck.add_argument("file")
    return p


def _ruleset(args):
    from . import rules as R
    rs = R.parse_file(args.rules) if args.rules else R.RuleSet()
    for i, text in enumerate(args.rule, 1):
        try:
            rs.rules.append(R.parse_rule(text))
        except R.RuleError as e:
            raise R.RuleError(f"--rule {i} {text!r}: {e.msg}") from None
    if args.default:
        rs.default = R.parse_default(args.default)
    return rs


def _print_status(st: dict, out) -> None:
    prog = st["program"]
    out.write(f"{st['interface']}: {st['hook']} ({st['mode']}), program "
              f"{prog['name'] or '?'} id {prog['id']}, link id {st['link']['id']}, "
              f"{len(st['rules']) - 1} rules (capacity {st['capacity']})\n")
    out.write(f"  {'id':>6}  {'rule':<48} {'packets':>12} {'bytes':>14} {'limited':>10}\n")
    for r in st["rules"]:
        lim = str(r["limited"]) if r["action"] == "limit" else ""
        out.write(f"  {r['id']:>6}  {r['rule']:<48} {r['packets']:>12} {r['bytes']:>14} "
                  f"{lim:>10}\n")
    out.write("  actions:")
    for k, v in st["actions"].items():
        out.write(f"  {k} {v['packets']} ({v['bytes']} B)")
    out.write("\n")


def run(argv) -> int:
    from . import firewall as F
    from . import rules as R
    from . import trie as T
    args = _parser().parse_args(argv)
    out = sys.stdout
    if args.cmd == "check":
        rs = R.parse_file(args.file)
        with _in_file(args.file):
            T.encode(rs.rules, list(range(1, len(rs.rules) + 1)), rs.default or R.ALLOW)
        if rs.default is not None:
            out.write(f"default {R.ACTION_NAMES[rs.default]}\n")
        for r in rs.rules:
            out.write(r.text() + "\n")
        return 0
    if args.cmd == "load":
        rs = _ruleset(args)
        with _in_file(args.rules), F.Firewall.load(args.iface, rs, hook=args.hook, mode=args.mode,
                             egress=args.egress, capacity=args.capacity) as fw:
            st = fw.status()
        out.write(f"firewall loaded on {args.iface}: {st['hook']} ({st['mode']}), "
                  f"{len(st['rules']) - 1} rules, default {st['default']}, pinned at "
                  f"{F.pin_dir(args.iface)}\n")
        return 0
    if args.cmd == "unload":
        F.unload(args.iface)
        out.write(f"firewall unloaded from {args.iface}\n")
        return 0
    if args.cmd == "status":
        ifaces = [args.iface] if args.iface else F.loaded()
        if args.iface is None and not ifaces:
            if args.json:
                out.write("[]\n")
            else:
                out.write("no firewall loaded\n")
            return 0
        sts = []
        for iface in ifaces:
            with F.Firewall.open(iface) as fw:
                sts.append(fw.status())
        if args.json:
            import json
            json.dump(sts[0] if args.iface else sts, out, indent=1)
            out.write("\n")
        else:
            for st in sts:
                _print_status(st, out)
        return 0
    with F.Firewall.open(args.iface) as fw:
        if args.cmd == "apply":
            rs = _ruleset(args)
            with _in_file(args.rules):
                res = fw.apply(rs)
            out.write(f"{args.iface}: {res['rules']} rules, default {res['default']} "
                      f"({res['seconds'] * 1000:.1f} ms)\n")
            return 0
        if args.cmd == "add":
            res = fw.add([_cli_rule(t, i) for i, t in enumerate(args.rule, 1)])
            verb = "added"
        else:
            res = fw.delete([int(t) if t.isdigit() else _cli_rule(t, i)
                             for i, t in enumerate(args.rule, 1)])
            verb = "deleted"
    out.write(f"{args.iface}: {verb} {res['rules']} rule{'s' * (res['rules'] != 1)} "
              f"({res['seconds'] * 1000:.1f} ms)\n")
    return 0


def _in_file(path):
    """Errors of rules with a line number (duplicates, overlapping ranges: found when the
    set is encoded) name the rules file too."""
    import contextlib

    from . import rules as R

    @contextlib.contextmanager
    def ctx():
        try:
            yield
        except R.RuleError as e:
            if path and e.line is not None and e.source is None:
                raise R.RuleError(e.msg, e.line, path) from None
            raise
    return ctx()


def _cli_rule(text: str, i: int):
    from . import rules as R
    try:
        return R.parse_rule(text)
    except R.RuleError as e:
        raise R.RuleError(f"rule {i} {text!r}: {e.msg}") from None


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    try:
        return run(argv)
    except errors.PybpfError as e:
        print(f"pybpf firewall: error: {e}", file=sys.stderr)   # as CLI.md says
        return 1
    except KeyboardInterrupt as e:      # pybpf's Stop too (SIGTERM: 143)
        return 128 + getattr(e, "signum", 2)
