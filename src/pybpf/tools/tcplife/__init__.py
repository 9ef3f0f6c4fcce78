"""tcplife: trace TCP sessions and summarize lifespan and bytes, as bcc's tcplife."""

from __future__ import annotations

import struct

from .. import _args, _common, _net, _run, _tcpopts

_HDR = struct.Struct("<QQQQII")
_COMM = _HDR.size + _net.ADDRS.size

EXAMPLES = """examples:
    pybpf tcplife           # trace all TCP connect()s
    pybpf tcplife -T        # include time column (HH:MM:SS)
    pybpf tcplife -w        # wider columns (fit IPv6)
    pybpf tcplife -stT      # csv output, with times & timestamps
    pybpf tcplife -p 181    # only trace PID 181
    pybpf tcplife -L 80     # only trace local port 80
    pybpf tcplife -L 80,81  # only trace local ports 80 and 81
    pybpf tcplife -D 80     # only trace remote port 80
    pybpf tcplife --json    # one JSON object per session
"""


def parser():
    p = _args.parser("tcplife", "Trace the lifespan of TCP sessions and summarize", EXAMPLES)
    _args.add_pid(p)
    _tcpopts.add(p)
    return p


def run(args, out):
    clock = _common.Clock()
    first = [None]
    aw = 39 if args.wide else 15

    def header():
        pre = _tcpopts.prefix(args, clock, 0, 0, header=True)
        cols = ("PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS")
        if args.csv:
            out.header(pre + "PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS")
        elif args.wide:
            out.header(pre + "%-7s %-12.12s %-2s %-39s %-5s %-39s %-5s %6s %6s %s" % (
                cols[0], cols[1], "IP", *cols[2:]))
        else:
            out.header(pre + f"%-7s %-10.10s %-{aw}s %-5s %-{aw}s %-5s %5s %5s %s" % cols)

    def handle(data):
        ts, span_us, rx, tx, pid, _ = _HDR.unpack_from(data)
        family, lport, rport, laddr, raddr = _net.unpack_addrs(data, _HDR.size)
        comm = _common.cstr(bytes(data[_COMM:_COMM + 16]))
        if first[0] is None:
            first[0] = ts
        ms = span_us / 1000
        ip = _net.ip_version(family)
        if out.json:
            out.row("", {"time": clock.hms(ts), "ts": round((ts - first[0]) / 1e9, 6),
                         "pid": pid, "comm": comm, "ip": ip, "laddr": laddr, "lport": lport,
                         "raddr": raddr, "rport": rport, "tx_bytes": tx, "rx_bytes": rx,
                         "ms": round(ms, 3)})
            return
        pre = _tcpopts.prefix(args, clock, ts, first[0])
        if args.csv:
            out.row(pre + "%d,%s,%d,%s,%d,%s,%d,%d,%d,%.2f" % (
                pid, comm, ip, laddr, lport, raddr, rport, tx // 1024, rx // 1024, ms), {})
        elif args.wide:
            out.row(pre + "%-7d %-12.12s %-2d %-39s %-5d %-39s %-5d %6d %6d %.2f" % (
                pid, comm, ip, laddr, lport, raddr, rport, tx // 1024, rx // 1024, ms), {})
        else:
            out.row(pre + f"%-7d %-10.10s %-{aw}s %-5d %-{aw}s %-5d %5d %5d %.2f" % (
                pid, comm, laddr, lport, raddr, rport, tx // 1024, rx // 1024, ms), {})

    with _args.Filters(args) as f, _run.load("tcplife", f, _tcpopts.consts(args)) as obj:
        _run.stream("tcplife", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("tcplife", parser, run, argv)
