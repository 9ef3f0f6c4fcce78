"""Options the TCP state tools share (tcpstates, tcplife): time columns, -w, -s, -L/-D
port lists and -4/-6, mapped onto tools/_sock.bpf.h's constants."""

from __future__ import annotations

from . import _args, _net


def add(p) -> None:
    p.add_argument("-T", "--time", action="store_true", help="include time column on output (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include timestamp on output (seconds)")
    p.add_argument("-w", "--wide", action="store_true", help="wide column output (fits IPv6 addresses)")
    p.add_argument("-s", "--csv", action="store_true", help="comma separated values output")
    p.add_argument("-L", "--localport", type=_net.port_list,
                   help="comma-separated list of local ports to trace")
    p.add_argument("-D", "--remoteport", type=_net.port_list,
                   help="comma-separated list of remote ports to trace")
    _net.add_family(p)
    _args.add_json(p)


def consts(args) -> dict:
    lp, nl = _net.ports_bytes(args.localport)
    dp, nd = _net.ports_bytes(args.remoteport)
    return {"targ_lports": lp, "n_lports": nl, "targ_dports": dp, "n_dports": nd,
            "targ_family": _net.family_const(args)}


def prefix(args, clock, ts: int, first: int, header: bool = False) -> str:
    """The optional TIME / TIME(s) columns."""
    out = ""
    if args.time:
        out += ("%s," % "TIME" if args.csv else "%-8s " % "TIME") if header else \
            ("%s," if args.csv else "%-8s ") % clock.hms(ts)
    if args.timestamp:
        out += ("%s," % "TIME(s)" if args.csv else "%-9s " % "TIME(s)") if header else \
            ("%.6f," if args.csv else "%-9.6f ") % ((ts - first) / 1e9)
    return out
