"""tcpstates: trace TCP session state changes with durations, as bcc's tcpstates."""

from __future__ import annotations

import struct

from .. import _args, _common, _net, _run, _tcpopts

_HDR = struct.Struct("<QQQIiiI")
_COMM = _HDR.size + _net.ADDRS.size

EXAMPLES = """examples:
    pybpf tcpstates            # trace all TCP state changes
    pybpf tcpstates -t         # include timestamp column
    pybpf tcpstates -T         # include time column (HH:MM:SS)
    pybpf tcpstates -w         # wider columns (fit IPv6)
    pybpf tcpstates -s         # CSV output (with timestamps)
    pybpf tcpstates -L 80      # only trace local port 80
    pybpf tcpstates -D 80      # only trace remote port 80
    pybpf tcpstates --json     # one JSON object per state change
"""


def parser():
    p = _args.parser("tcpstates", "Trace TCP session state changes and durations", EXAMPLES)
    _tcpopts.add(p)
    return p


def run(args, out):
    clock = _common.Clock()
    first = [None]
    if args.csv:
        args.timestamp = True
    aw = 39 if args.wide else 15

    def header():
        pre = _tcpopts.prefix(args, clock, 0, 0, header=True)
        cols = ("SKADDR", "C-PID", "C-COMM", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE",
                "NEWSTATE", "MS")
        if args.csv:
            out.header(pre + ",".join(cols[:8]) + ",NEWSTATE,MS")
        else:
            out.header(pre + f"%-16s %-5s %-10.10s %-{aw}s %-5s %-{aw}s %-5s %-11s -> %-11s %s"
                       % cols)

    def handle(data):
        sk, ts, delta_us, pid, old, new, _ = _HDR.unpack_from(data)
        family, lport, rport, laddr, raddr = _net.unpack_addrs(data, _HDR.size)
        comm = bytes(data[_COMM:_COMM + 16]).split(b"\0", 1)[0].decode(errors="replace")
        if first[0] is None:
            first[0] = ts
        olds, news = _net.TCP_STATES.get(old, str(old)), _net.TCP_STATES.get(new, str(new))
        ms = delta_us / 1000
        if out.json:
            out.row("", {"time": clock.hms(ts), "ts": round((ts - first[0]) / 1e9, 6),
                         "skaddr": "%x" % sk, "pid": pid, "comm": comm,
                         "ip": _net.ip_version(family), "laddr": laddr, "lport": lport,
                         "raddr": raddr, "rport": rport, "oldstate": olds, "newstate": news,
                         "ms": round(ms, 3)})
            return
        pre = _tcpopts.prefix(args, clock, ts, first[0])
        if args.csv:
            out.row(pre + "%x,%d,%s,%s,%d,%s,%d,%s,%s,%.3f" % (
                sk, pid, comm, laddr, lport, raddr, rport, olds, news, ms), {})
        else:
            out.row(pre + f"%-16x %-5d %-10.10s %-{aw}s %-5d %-{aw}s %-5d %-11s -> %-11s %.3f"
                    % (sk, pid, comm, laddr, lport, raddr, rport, olds, news, ms), {})

    with _args.Filters(args) as f, _run.load("tcpstates", f, _tcpopts.consts(args)) as obj:
        _run.stream("tcpstates", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("tcpstates", parser, run, argv)
