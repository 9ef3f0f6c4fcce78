"""tcpconnect: trace active TCP connections (connect()), as bcc's tcpconnect."""

from __future__ import annotations

import time

from .. import _args, _common, _net, _run

DNS_EVENT = 8 + 512             # struct dns_event (tcpconnect.h): len, pad, pkt
CONNECT_PROGRAMS = ["enter_connect", "exit_connect"]

EXAMPLES = """examples:
    pybpf tcpconnect             # trace all TCP connect()s
    pybpf tcpconnect -t          # include timestamps
    pybpf tcpconnect -p 181      # only trace PID 181
    pybpf tcpconnect -P 80       # only trace port 80
    pybpf tcpconnect -P 80,81    # only trace port 80 and 81
    pybpf tcpconnect -4          # only trace IPv4 family
    pybpf tcpconnect -6          # only trace IPv6 family
    pybpf tcpconnect -U          # include UID
    pybpf tcpconnect -u 1000     # only trace UID 1000
    pybpf tcpconnect -c          # count connects per src ip and dest ip/port
    pybpf tcpconnect -L          # include LPORT while printing outputs
    pybpf tcpconnect -d          # include DNS queries associated with connects
    pybpf tcpconnect --cgroupmap mappath  # only trace cgroups in this BPF map
    pybpf tcpconnect --mntnsmap mappath   # only trace mount namespaces in the map
    pybpf tcpconnect --json      # one JSON object per connect
"""


def parser():
    p = _args.parser("tcpconnect", "Trace TCP connects", EXAMPLES)
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    _args.add_pid(p)
    _net.add_filters(p, "comma-separated list of destination ports to trace")
    p.add_argument("-L", "--lport", action="store_true", help="include LPORT on output")
    p.add_argument("-U", "--print-uid", action="store_true", help="include UID on output")
    p.add_argument("-u", "--uid", type=_common.parse_uid, help="trace this UID only")
    p.add_argument("-c", "--count", action="store_true",
                   help="count connects per src ip and dest ip/port")
    _args.add_cgroup(p, flags=("--cgroup",))
    _args.add_maps(p)
    p.add_argument("-d", "--dns", action="store_true",
                   help="include likely DNS query associated with each connect")
    _args.add_json(p, "connect")
    return p


def run(args, out):
    if args.dns and args.count:
        raise SystemExit("error: you may not specify -d/--dns with -c/--count")
    dns = None
    if args.dns:
        from .. import _dns
        dns = _dns.Cache()
    consts = _net.filter_consts(args, "d")
    if args.uid is not None:
        consts["targ_uid"] = args.uid
    clock = _common.Clock()
    first = [None]
    counts: dict = {}

    def header():
        if args.count:
            out.header("Tracing connect ... Hit Ctrl-C to end")
            return
        out.header(("%-9s" % "TIME(s)" if args.timestamp else "")
                   + ("%-6s " % "UID" if args.print_uid else "")
                   + "%-6s %-12s %-2s %-16s " % ("PID", "COMM", "IP", "SADDR")
                   + ("%-6s " % "LPORT" if args.lport else "")
                   + "%-16s %-6s" % ("DADDR", "DPORT") + (" QUERY" if dns else ""))

    def handle(data):
        if len(data) == DNS_EVENT:      # -d: an answer from port 53, for the cache
            n = int.from_bytes(data[:4], "little")
            dns.add(bytes(data[8:8 + min(n, 512)]))
            return
        ts, pid, uid, family, lport, dport, saddr, daddr, comm = _net.decode_conn(data)
        if args.count:
            key = (saddr, daddr, dport)
            counts[key] = counts.get(key, 0) + 1
            return
        if first[0] is None:
            first[0] = ts
        ip = _net.ip_version(family)
        if out.json:
            rec = {"time": clock.hms(ts), "ts": round((ts - first[0]) / 1e9, 6),
                   "uid": uid, "pid": pid, "comm": comm, "ip": ip, "saddr": saddr,
                   "lport": lport, "daddr": daddr, "dport": dport}
            if dns:
                name, ms = dns.lookup(daddr)
                rec["query"] = name
                rec["query_age_ms"] = None if ms is None else round(ms, 3)
            out.row("", rec)
            return
        out.row(("%-9.3f" % ((ts - first[0]) / 1e9) if args.timestamp else "")
                + ("%-6d " % uid if args.print_uid else "")
                + "%-6d %-12.12s %-2d %-16s " % (pid, comm, ip, saddr)
                + ("%-6d " % lport if args.lport else "")
                + "%-16s %-6d" % (daddr, dport)
                + (" " + dns.column(daddr) if dns else ""), {})

    # the DNS program is loaded only for -d (a cold start of it costs a verification)
    with _args.Filters(args) as f, _run.load(
            "tcpconnect", f, consts, programs=None if dns else CONNECT_PROGRAMS,
            attach=CONNECT_PROGRAMS, on_demand=("start",)) as obj:
        if dns:
            from ...links import cgroup
            from ..._sys.uapi import AttachType
            obj.links.append(cgroup.attach(obj.programs["dns_answer"], cgroup.cgroup2_root(),
                                           AttachType.CGROUP_INET_INGRESS))
        _run.stream("tcpconnect", obj, handle, out, header)
        if args.count:
            if out.json:
                for (s, d, p), c in sorted(counts.items(), key=lambda kv: -kv[1]):
                    out.row("", {"time": time.strftime("%H:%M:%S"), "saddr": s, "daddr": d,
                                 "dport": p, "connects": c})
            else:
                out.stream.write("\n%-25s %-25s %-20s %-10s\n" % ("LADDR", "RADDR", "RPORT",
                                                                  "CONNECTS"))
                for (s, d, p), c in sorted(counts.items(), key=lambda kv: -kv[1]):
                    out.stream.write("%-25s %-25s %-20d %-10d\n" % (s, d, p, c))
            out.flush()
    return 0


def main(argv=None) -> int:
    return _run.main("tcpconnect", parser, run, argv)
