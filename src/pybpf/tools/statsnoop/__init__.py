"""statsnoop: trace stat() syscalls (statfs, stat, lstat, fstatat, statx), as bcc's."""

from __future__ import annotations

import struct

from .. import _args, _common, _run

_EV = struct.Struct("<QIi16s256sI")
# bcc's names of enum sys_type (statsnoop.h), for -s/--sysname
SYS_NAMES = ("N/A", "stat", "statx", "statfs", "newstat", "newlstat", "fstatat64",
             "newfstatat")

EXAMPLES = """examples:
    pybpf statsnoop           # trace all stat() syscalls
    pybpf statsnoop -t        # include timestamps
    pybpf statsnoop -x        # only show failed stats
    pybpf statsnoop -p 181    # only trace PID 181
    pybpf statsnoop -s        # include syscall name
    pybpf statsnoop --json    # one JSON object per stat
"""

# the stat syscalls of older or other architectures: absent here, skipped there
OPTIONAL = ("enter_newstat", "enter_newlstat", "enter_statfs")
# exit_stat's section names sys_exit_statx; the same program ends the others (each left
# out where its syscall is absent, as its enter is)
EXITS = (("syscalls", "sys_exit_statfs"), ("syscalls", "sys_exit_newstat"),
         ("syscalls", "sys_exit_newlstat"), ("syscalls", "sys_exit_newfstatat"))


def parser():
    p = _args.parser("statsnoop", "Trace stat() syscalls", EXAMPLES)
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-x", "--failed", action="store_true", help="only show failed stats")
    _args.add_pid(p)
    _args.add_cgroup(p)
    p.add_argument("-s", "--sysname", action="store_true",
                   help="include syscall name on output")
    _args.add_json(p, "stat")
    return p


def run(args, out):
    clock = _common.Clock()
    first = [None]

    def header():
        out.header(("%-14s" % "TIME(s)" if args.timestamp else "")
                   + "%-7s %-16s %4s %3s" % ("PID", "COMM", "FD", "ERR")
                   + (" %-12s" % "SYSCALL" if args.sysname else "") + " PATH")

    def handle(data):
        ts, pid, ret, comm, path, kind = _EV.unpack_from(data)
        sysname = SYS_NAMES[kind] if kind < len(SYS_NAMES) else str(kind)
        comm = _common.cstr(comm)
        path = _common.cstr(path)
        fd, err = (ret, 0) if ret >= 0 else (-1, -ret)
        if first[0] is None:
            first[0] = ts
        if out.json:
            out.row("", {"time": clock.hms(ts), "ts": round((ts - first[0]) / 1e9, 9),
                         "pid": pid, "comm": comm, "ret": fd, "err": err, "path": path,
                         "syscall": sysname})
            return
        out.row(("%-14.9f" % ((ts - first[0]) / 1e9) if args.timestamp else "")
                + "%-7d %-16s %4d %3d" % (pid, comm, fd, err)
                + (" %-12s" % sysname if args.sysname else "") + " " + path, {})

    # the in-flight table (thread -> stat's arguments) allocates as calls begin
    with _args.Filters(args) as f, _run.load("statsnoop", f, {"failed_only": args.failed},
                                             attach=False, on_demand=("start",)) as obj:
        _run.attach_some(obj, optional=OPTIONAL, also={"exit_stat": EXITS})
        _run.stream("statsnoop", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("statsnoop", parser, run, argv)
