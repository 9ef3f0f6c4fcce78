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
    pybpf tcpstates -Y         # log events to the systemd journal
    pybpf tcpstates --json     # one JSON object per state change
"""


def parser():
    p = _args.parser("tcpstates", "Trace TCP session state changes and durations", EXAMPLES)
    _tcpopts.add(p)
    p.add_argument("-Y", "--journal", action="store_true",
                   help="log session state changes to the systemd journal")
    return p


def journal_fields(pid: int, comm: str, family: int, laddr: str, lport: int, raddr: str,
                   rport: int, old: str, new: str, span_us: int) -> dict:
    """bcc's journal entry for one change (systemd.journal-fields(7) names and its
    OBJECT_* ones); the comm is left to journald, which adds it for a root sender."""
    import time
    ip = "IPV6" if _net.ip_version(family) == 6 else "IPV4"
    return {
        "SYSLOG_IDENTIFIER": "tcpstates", "PRIORITY": 5,
        "_SOURCE_REALTIME_TIMESTAMP": int(time.time() * 1000000),
        "OBJECT_PID": pid,
        f"OBJECT_{ip}_SOURCE_ADDRESS": laddr, "OBJECT_TCP_SOURCE_PORT": lport,
        f"OBJECT_{ip}_DESTINATION_ADDRESS": raddr, "OBJECT_TCP_DESTINATION_PORT": rport,
        "OBJECT_TCP_OLD_STATE": old, "OBJECT_TCP_NEW_STATE": new,
        "OBJECT_TCP_SPAN_TIME": span_us,
        "MESSAGE": f"{comm} {laddr} {lport} \u2192 {raddr} {rport} {old} \u2192 {new}",
    }


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
        comm = _common.cstr(bytes(data[_COMM:_COMM + 16]))
        if first[0] is None:
            first[0] = ts
        olds, news = _net.TCP_STATES.get(old, str(old)), _net.TCP_STATES.get(new, str(new))
        ms = delta_us / 1000
        if journal:
            journal.send(journal_fields(pid, comm, family, laddr, lport, raddr, rport, olds,
                                        news, delta_us))
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

    journal = None
    if args.journal:
        from .. import _journal
        journal = _journal.Journal()
    try:
        with _args.Filters(args) as f, \
                _run.load("tcpstates", f, _tcpopts.consts(args)) as obj:
            _run.stream("tcpstates", obj, handle, out, header)
    finally:
        if journal:
            journal.close()
            if journal.failed:
                _common.warn("tcpstates", f"journal: lost {journal.failed} entries")
    return 0


def main(argv=None) -> int:
    return _run.main("tcpstates", parser, run, argv)
