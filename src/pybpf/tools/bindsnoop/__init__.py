"""bindsnoop: trace bind() on IPv4/IPv6 sockets with options and results (bcc's)."""

from __future__ import annotations

import struct

from .. import _args, _common, _net, _run

_EV = struct.Struct("<QIIiHHHBBI16s16s")
PROTOS = {1: "TCP", 2: "UDP", 3: "RAW", 5: "SEQP", 6: "DCCP"}

EXAMPLES = """examples:
    pybpf bindsnoop             # trace all bind() syscalls on INET sockets
    pybpf bindsnoop -t          # include timestamps
    pybpf bindsnoop -x          # only show failed binds
    pybpf bindsnoop -p 181      # only trace PID 181
    pybpf bindsnoop -P 80,81    # only trace ports 80 and 81
    pybpf bindsnoop -U          # include UID
    pybpf bindsnoop -u 1000     # only trace UID 1000
    pybpf bindsnoop -E          # add an RC column (binds that failed show anyway)
    pybpf bindsnoop -w -E       # wider columns, errors as text
    pybpf bindsnoop --count     # count binds per local address and port
    pybpf bindsnoop --json      # one JSON object per bind
"""


def parser():
    p = _args.parser("bindsnoop", "Trace IPv4 and IPv6 bind() system calls", EXAMPLES)
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-x", "--failed", action="store_true", help="only show failed binds")
    _args.add_pid(p)
    p.add_argument("-P", "--port", type=_net.port_list, help="comma-separated list of ports")
    p.add_argument("-U", "--print-uid", action="store_true", help="include UID on output")
    p.add_argument("-u", "--uid", type=_common.uid_arg, help="trace this UID only")
    p.add_argument("-w", "--wide", action="store_true",
                   help="wide column output (fits IPv6 addresses)")
    p.add_argument("-E", "--errors", action="store_true",
                   help="include errors in the output.")
    p.add_argument("--count", action="store_true", help="count binds per src ip and port")
    # bcc accepts it and does nothing with it
    p.add_argument("--debug-source", action="store_true", help=_args.SUPPRESS)
    _args.add_cgroup(p, flags=("--cgroup",))
    _args.add_maps(p)
    _args.add_json(p, "bind")
    return p


def _rc(ret: int, wide: bool) -> str:
    """bcc's RC column (-E): the return code, as text with -w."""
    if not wide:
        return "%3s " % ret
    import os
    return "%-25s " % os.strerror(-ret)


def run(args, out):
    ports, n = _net.ports_bytes(args.port)
    consts = {"failed_only": args.failed, "targ_lports": ports, "n_lports": n,
              "count_only": args.count, "count_failed": args.errors}
    if args.uid is not None:
        consts["targ_uid"] = args.uid
    if args.count:
        return count(args, out, consts)
    clock = _common.Clock()
    pidw = 10 if args.wide else 7

    def header():
        out.header(("%-9s" % "TIME" if args.timestamp else "")
                   + ("%-6s " % "UID" if args.print_uid else "")
                   + (("%-25s " if args.wide else "%3s ") % "RC" if args.errors else "")
                   + "%-*s %-16s %-3s %-5s %-5s %-4s %-5s %s" % (
                       pidw, "PID", "COMM", "RET", "PROTO", "OPTS", "IF", "PORT", "ADDR"))

    def handle(data):
        (ts, pid, uid, ret, family, port, typ, reuseaddr, reuseport, ifindex, raw,
         comm) = _EV.unpack_from(data)
        comm = _common.cstr(comm)
        addr = _net.addr(family, raw)
        proto = PROTOS.get(typ, str(typ))
        opts = ("R" if reuseaddr else ".") + ("r" if reuseport else ".")
        if out.json:
            out.row("", {"time": clock.hms(ts), "uid": uid, "pid": pid, "comm": comm,
                         "ret": ret, "proto": proto, "reuseaddr": bool(reuseaddr),
                         "reuseport": bool(reuseport), "if": ifindex, "port": port,
                         "addr": addr})
            return
        out.row(("%-9s" % clock.hms(ts) if args.timestamp else "")
                + ("%-6d " % uid if args.print_uid else "")
                + (_rc(ret, args.wide) if args.errors else "")
                + "%-*d %-16s %-3d %-5s %-5s %-4d %-5d %s" % (
                    pidw, pid, comm, ret, proto, opts, ifindex, port, addr), {})

    # the --count table (10240 entries, preallocated) is unused here: one entry
    with _args.Filters(args) as f, _run.load("bindsnoop", f, consts, sizes={"counts": 1},
                                             on_demand=("start",)) as obj:
        _run.stream("bindsnoop", obj, handle, out, header)
    return 0


_COUNT_KEY = struct.Struct("<16sHH")


class _Once:
    """The interval loop's settings for --count: one report, at the end."""
    interval, count = 99999999, 1


def count(args, out, consts) -> int:
    """--count: binds per local address and port, counted in the kernel and printed at
    the end (bcc's LADDR LPORT BINDS table, most binds first)."""
    once = _Once()
    with _args.Filters(args) as f, _run.load("bindsnoop", f, consts,
                                             on_demand=("start",)) as obj:
        def report():
            rows = []
            for k, v in obj.maps["counts"].items_raw():
                raw, family, port = _COUNT_KEY.unpack(bytes(k))
                rows.append((_net.addr(family, raw), port, int.from_bytes(v, "little")))
            rows.sort(key=lambda r: -r[2])
            if out.json:
                out.row("", {"rows": [{"laddr": a, "lport": p, "binds": c}
                                      for a, p, c in rows]})
                return
            out.stream.write("\n%-32s %20s     %-10s\n" % ("LADDR", "LPORT", "BINDS"))
            for a, p, c in rows:
                out.stream.write("%-32s %20s     %-10d\n" % (a, p, c))
        _run.intervals("bindsnoop", obj, once, out, report,
                       banner="Tracing binds ... Hit Ctrl-C to end")
    return 0


def main(argv=None) -> int:
    return _run.main("bindsnoop", parser, run, argv)
