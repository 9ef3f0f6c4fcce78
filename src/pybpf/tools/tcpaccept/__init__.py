"""tcpaccept: trace passive TCP connections (accept()), as bcc's tcpaccept."""

from __future__ import annotations

from .. import _args, _common, _net, _run

EXAMPLES = """examples:
    pybpf tcpaccept             # trace all TCP accept()s
    pybpf tcpaccept -t          # include timestamps
    pybpf tcpaccept -T          # include time column (HH:MM:SS)
    pybpf tcpaccept -P 80,81    # only trace port 80 and 81
    pybpf tcpaccept -p 181      # only trace PID 181
    pybpf tcpaccept -4          # only trace IPv4 family
    pybpf tcpaccept -6          # only trace IPv6 family
    pybpf tcpaccept --json      # one JSON object per accept
"""


def parser():
    p = _args.parser("tcpaccept", "Trace TCP accepts", EXAMPLES)
    _args.add_time(p)
    _args.add_pid(p)
    _net.add_filters(p, "comma-separated list of local ports to trace")
    _args.add_cgroup(p, flags=("--cgroup",))
    _args.add_maps(p)
    _args.add_json(p, "accept")
    return p


def run(args, out):
    consts = _net.filter_consts(args, "l")
    clock = _common.Clock()
    first = [None]

    def header():
        out.header(("%-9s" % "TIME" if args.time else "")
                   + ("%-9s" % "TIME(s)" if args.timestamp else "")
                   + "%-7s %-12s %-2s %-16s %-5s %-16s %-5s" % (
                       "PID", "COMM", "IP", "RADDR", "RPORT", "LADDR", "LPORT"))

    def handle(data):
        ts, pid, uid, family, lport, rport, laddr, raddr, comm = _net.decode_conn(data)
        if first[0] is None:
            first[0] = ts
        ip = _net.ip_version(family)
        if out.json:
            out.row("", {"time": clock.hms(ts), "ts": round((ts - first[0]) / 1e9, 6),
                         "pid": pid, "uid": uid, "comm": comm, "ip": ip, "raddr": raddr,
                         "rport": rport, "laddr": laddr, "lport": lport})
            return
        out.row(("%-9s" % clock.hms(ts) if args.time else "")
                + ("%-9.3f" % ((ts - first[0]) / 1e9) if args.timestamp else "")
                + "%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d" % (
                    pid, comm, ip, raddr, rport, laddr, lport), {})

    with _args.Filters(args) as f, _run.load("tcpaccept", f, consts) as obj:
        _run.stream("tcpaccept", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("tcpaccept", parser, run, argv)
