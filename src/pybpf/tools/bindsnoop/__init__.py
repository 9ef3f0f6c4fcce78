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
    pybpf bindsnoop --json      # one JSON object per bind
"""


def parser():
    p = _args.parser("bindsnoop", "Trace IPv4 and IPv6 bind() system calls", EXAMPLES)
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-x", "--failed", action="store_true", help="only show failed binds")
    _args.add_pid(p)
    p.add_argument("-P", "--port", type=_net.port_list, help="comma-separated list of ports")
    p.add_argument("-U", "--print-uid", action="store_true", help="include UID on output")
    _args.add_cgroup(p, flags=("--cgroup",))
    _args.add_maps(p)
    _args.add_json(p, "bind")
    return p


def run(args, out):
    ports, n = _net.ports_bytes(args.port)
    consts = {"failed_only": args.failed, "targ_lports": ports, "n_lports": n}
    clock = _common.Clock()

    def header():
        out.header(("%-9s" % "TIME" if args.timestamp else "")
                   + ("%-6s " % "UID" if args.print_uid else "")
                   + "%-7s %-16s %-3s %-5s %-5s %-4s %-5s %s" % (
                       "PID", "COMM", "RET", "PROTO", "OPTS", "IF", "PORT", "ADDR"))

    def handle(data):
        (ts, pid, uid, ret, family, port, typ, reuseaddr, reuseport, ifindex, raw,
         comm) = _EV.unpack_from(data)
        comm = comm.split(b"\0", 1)[0].decode(errors="replace")
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
                + "%-7d %-16s %-3d %-5s %-5s %-4d %-5d %s" % (
                    pid, comm, ret, proto, opts, ifindex, port, addr), {})

    with _args.Filters(args) as f, _run.load("bindsnoop", f, consts) as obj:
        _run.stream("bindsnoop", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("bindsnoop", parser, run, argv)
