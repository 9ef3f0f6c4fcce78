"""gethostlatency: show latency of host name lookups (getaddrinfo etc.), as bcc's."""

from __future__ import annotations

import struct

from .. import _args, _common, _run

_EV = struct.Struct("<QQII16s80s")
FUNCS = ("getaddrinfo", "gethostbyname", "gethostbyname2")

EXAMPLES = """examples:
    pybpf gethostlatency           # time getaddrinfo/gethostbyname[2] calls
    pybpf gethostlatency -p 181    # only trace PID 181
    pybpf gethostlatency -l /usr/lib/x86_64-linux-gnu/libc.so.6   # this C library
    pybpf gethostlatency --json    # one JSON object per lookup
"""


def parser():
    p = _args.parser("gethostlatency", "Show latency for getaddrinfo/gethostbyname[2] calls",
                     EXAMPLES)
    _args.add_pid(p)
    p.add_argument("-l", "--libc", default="c", help="the C library (path or name)")
    _args.add_json(p, "lookup")
    return p


def run(args, out):
    from ...links import uprobe
    clock = _common.Clock()

    def header():
        out.header("%-9s %-7s %-16s %10s %s" % ("TIME", "PID", "COMM", "LATms", "HOST"))

    def handle(data):
        ts, delta, pid, _, comm, host = _EV.unpack_from(data)
        comm = _common.cstr(comm)
        host = _common.cstr(host)
        if out.json:
            out.row("", {"time": clock.hms(ts), "pid": pid, "comm": comm,
                         "lat_ms": round(delta / 1e6, 3), "host": host})
            return
        out.row("%-9s %-7d %-16s %10.2f %s" % (clock.hms(ts), pid, comm, delta / 1e6, host), {})

    from ...links import elfcache
    # the library and its offsets, cached by ld.so.cache's and libc's identities
    libc, table = elfcache.library_offsets(args.libc, FUNCS)
    with _args.Filters(args) as f, _run.load("gethostlatency", f, attach=False,
                                             on_demand=("starts",)) as obj:
        pid = args.pid or -1
        for func in FUNCS:
            off = elfcache.symbol_offset(libc, func, table)
            obj.links.append(uprobe.attach(obj.programs["lookup_entry"], libc, offset=off,
                                           pid=pid))
            obj.links.append(uprobe.attach(obj.programs["lookup_return"], libc, offset=off,
                                           retprobe=True, pid=pid))
        _run.stream("gethostlatency", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("gethostlatency", parser, run, argv)
