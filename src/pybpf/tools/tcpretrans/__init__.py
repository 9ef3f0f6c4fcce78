"""tcpretrans: trace TCP retransmits (tcp:tcp_retransmit_skb), as bcc's tcpretrans."""

from __future__ import annotations

import struct
import time

from .. import _args, _common, _net, _run

_HDR = struct.Struct("<QIi")
_SEQ = _HDR.size + _net.ADDRS.size     # struct event's seq, after the addresses
_TYPES = {1: "R", 2: "L"}              # tcpretrans.h: RETRANSMIT, TAIL_LOSS_PROBE

EXAMPLES = """examples:
    pybpf tcpretrans           # trace TCP retransmits
    pybpf tcpretrans -l        # include tail loss probe attempts (needs kprobes)
    pybpf tcpretrans -c        # count retransmits per connection until Ctrl-C
    pybpf tcpretrans -s        # display TCP sequence numbers
    pybpf tcpretrans -4        # trace IPv4 family only
    pybpf tcpretrans -6        # trace IPv6 family only
    pybpf tcpretrans --json    # one JSON object per retransmit
"""


def parser():
    p = _args.parser("tcpretrans", "Trace TCP retransmits", EXAMPLES)
    p.add_argument("-l", "--lossprobe", action="store_true",
                   help="include tail loss probe attempts (needs a kprobe)")
    p.add_argument("-c", "--count", action="store_true", help="count occurred retransmits per flow")
    p.add_argument("-s", "--sequence", action="store_true",
                   help="display TCP sequence numbers")
    _net.add_family(p)
    _args.add_json(p, "retransmit")
    return p


def run(args, out):
    programs = ["retransmit"]
    if args.lossprobe:
        # tail loss probes have no tracepoint: bcc hooks tcp_send_loss_probe with a kprobe
        from ...links import kprobe
        if not kprobe.available():
            raise SystemExit("error: -l needs a kprobe on tcp_send_loss_probe; this kernel "
                             "has no kprobes (CONFIG_KPROBES)")
        programs.append("tlp")
    consts = {"do_count": args.count, "targ_family": _net.family_const(args)}
    clock = _common.Clock()

    def header():
        if args.count:
            out.header("Tracing retransmits ... Hit Ctrl-C to end")
        else:
            out.header("%-8s %-7s %-2s %-20s %1s> %-20s " % (
                "TIME", "PID", "IP", "LADDR:LPORT", "T", "RADDR:RPORT")
                + ("%-12s %-10s" % ("STATE", "SEQ") if args.sequence else "STATE"))

    def handle(data):
        ts, pid, state = _HDR.unpack_from(data)
        family, lport, rport, laddr, raddr = _net.unpack_addrs(data, _HDR.size)
        st = _net.TCP_STATES.get(state, str(state))
        seq = int.from_bytes(data[_SEQ:_SEQ + 4], "little")
        kind = _TYPES.get(int.from_bytes(data[_SEQ + 4:_SEQ + 8], "little"), "?")
        if out.json:
            rec = {"time": clock.hms(ts), "pid": pid, "ip": _net.ip_version(family),
                   "laddr": laddr, "lport": lport, "type": kind, "raddr": raddr,
                   "rport": rport, "state": st}
            if args.sequence:
                rec["seq"] = seq
            out.row("", rec)
            return
        out.row("%-8s %-7d %-2d %-20s %1s> %-20s " % (
            clock.hms(ts), pid, _net.ip_version(family), f"{laddr}:{lport}", kind,
            f"{raddr}:{rport}") + ("%-12s %s" % (st, seq) if args.sequence else st), {})

    with _args.Filters(args) as f, _run.load("tcpretrans", f, consts,
                                                  programs=programs) as obj:
        _run.stream("tcpretrans", obj, handle, out, header)
        if args.count:
            rows = []
            for k, v in obj.maps["counts"].items_raw():
                family, lport, rport, laddr, raddr = _net.unpack_addrs(k)
                rows.append((int.from_bytes(v, "little"), family, laddr, lport, raddr, rport))
            rows.sort(reverse=True)
            if out.json:
                for n, family, laddr, lport, raddr, rport in rows:
                    out.row("", {"time": time.strftime("%H:%M:%S"),
                                 "ip": _net.ip_version(family), "laddr": laddr, "lport": lport,
                                 "raddr": raddr, "rport": rport, "retransmits": n})
            else:
                out.stream.write("\n%-25s %-25s %-10s\n" % ("LADDR:LPORT", "RADDR:RPORT",
                                                          "RETRANSMITS"))
                for n, family, laddr, lport, raddr, rport in rows:
                    out.stream.write("%-25s %-25s %-10d\n" % (
                        f"{laddr}:{lport}", f"{raddr}:{rport}", n))
            out.flush()
    return 0


def main(argv=None) -> int:
    return _run.main("tcpretrans", parser, run, argv)
