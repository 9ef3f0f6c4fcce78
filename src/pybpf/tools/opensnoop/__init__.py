"""opensnoop: trace open() syscalls, with bcc's options and columns."""

from __future__ import annotations

import os
import struct

from .. import _args, _common, _run

_EV = struct.Struct("<QIIIiiIII16s256s")
_FULL = struct.Struct("<II")            # struct event_full after the event: depth, truncated
DIR_DEPTH, DIR_NAME = 16, 64            # opensnoop.h
# tp_exit's section names sys_exit_openat; the same program ends open() and openat2()
EXITS = (("syscalls", "sys_exit_open"), ("syscalls", "sys_exit_openat2"))

EXAMPLES = """examples:
    pybpf opensnoop                  # trace all open() syscalls
    pybpf opensnoop -T               # include timestamps
    pybpf opensnoop -U               # include UID
    pybpf opensnoop -x               # only show failed opens
    pybpf opensnoop -p 181           # only trace PID 181
    pybpf opensnoop -t 123           # only trace TID 123
    pybpf opensnoop -u 1000          # only trace UID 1000
    pybpf opensnoop -d 10            # trace for 10 seconds only
    pybpf opensnoop -n main          # only print process names containing "main"
    pybpf opensnoop -e               # show extended fields (flags)
    pybpf opensnoop -f O_WRONLY -f O_RDWR  # only print calls for writing
    pybpf opensnoop -F               # show full path for a relative open
    pybpf opensnoop -c /sys/fs/cgroup/app  # only trace tasks in this cgroup
    pybpf opensnoop --cgroupmap mappath    # only trace cgroups in this BPF map
    pybpf opensnoop --mntnsmap mappath     # only trace mount namespaces in the map
    pybpf opensnoop --json           # one JSON object per open
    pybpf opensnoop --exec ls -l /tmp  # run this command and trace it only, until it exits
"""

FLAGS = {name: getattr(os, name) for name in (
    "O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC",
    "O_APPEND", "O_NONBLOCK", "O_DSYNC", "O_DIRECT", "O_LARGEFILE", "O_DIRECTORY",
    "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_SYNC", "O_PATH", "O_TMPFILE")
    if hasattr(os, name)}


def flag_value(text: str) -> str:
    name = text.upper()
    if not name.startswith("O_"):
        name = "O_" + name
    if name not in FLAGS:
        import argparse
        raise argparse.ArgumentTypeError(f"unknown open flag {text!r}")
    return name


def parser():
    p = _args.parser("opensnoop", "Trace open() syscalls", EXAMPLES)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-U", "--print-uid", action="store_true", help="print UID column")
    p.add_argument("-x", "--failed", action="store_true", help="only show failed opens")
    _args.add_pid(p, tid=True, tid_flags=("-t", "--tid"))
    _args.add_cgroup(p)
    _args.add_maps(p)
    p.add_argument("-u", "--uid", type=_common.parse_uid, help="trace this UID only")
    p.add_argument("-d", "--duration", type=_args.positive_seconds,
                   help="total duration of trace in seconds")
    p.add_argument("-n", "--name", help="only print process names containing this name")
    p.add_argument("-e", "--extended_fields", action="store_true",
                   help="show extended fields (flags)")
    p.add_argument("-f", "--flag_filter", action="append", type=flag_value, metavar="FLAG",
                   help="filter on flags argument (e.g., O_WRONLY)")
    p.add_argument("-F", "--full-path", action="store_true",
                   help="show full path for an open file with relative path")
    p.add_argument("-b", "--buffer-pages", type=_args.positive_int, default=64,
                   help="accepted for bcc compatibility (the ring buffer is fixed)")
    _args.add_json(p, "open")
    _args.add_exec(p)
    return p


def full_path(data, path: str) -> str:
    """A relative path made absolute from the directory the kernel side walked (-F): its
    components come innermost first; a walk cut short keeps a leading "...".  """
    if path.startswith("/") or len(data) < _EV.size + _FULL.size:
        return path
    depth, truncated = _FULL.unpack_from(data, _EV.size)
    base = _EV.size + _FULL.size
    parts = []
    for i in range(min(depth, DIR_DEPTH)):
        raw = bytes(data[base + i * DIR_NAME:base + (i + 1) * DIR_NAME])
        parts.append(_common.cstr(raw))
    head = "..." if truncated else ""
    return head + "/" + "/".join(reversed(parts)) + ("/" if parts else "") + path


def run(args, out):
    consts = {"failed_only": args.failed, "full_path": args.full_path}
    if args.uid is not None:
        consts["targ_uid"] = args.uid
    if args.flag_filter:
        consts["filter_flags"] = True
        consts["targ_flags"] = sum(FLAGS[f] for f in args.flag_filter)
        consts["targ_rdonly"] = "O_RDONLY" in args.flag_filter
    name = args.name.encode() if args.name else None
    clock = _common.Clock()
    first = [None]

    def header():
        out.header(("%-14s" % "TIME(s)" if args.timestamp else "")
                   + ("%-6s " % "UID" if args.print_uid else "")
                   + "%-6s %-16s %4s %3s " % ("TID" if args.tid else "PID", "COMM", "FD", "ERR")
                   + ("%-9s" % "FLAGS" if args.extended_fields else "") + "PATH")

    def handle(data):
        ts, pid, tid, uid, ret, dirfd, flags, mode, _, comm, fname = _EV.unpack_from(data)
        comm = comm.split(b"\0", 1)[0]
        if name and name not in comm:
            return
        path = _common.cstr(fname)
        if args.full_path:
            path = full_path(data, path)
        fd, err = (ret, 0) if ret >= 0 else (-1, -ret)
        if first[0] is None:
            first[0] = ts
        delta = (ts - first[0]) / 1e9
        scomm = _common.raw_text(comm)
        if out.json:
            out.row("", {"time": clock.hms(ts), "ts": round(delta, 9), "uid": uid, "pid": pid,
                         "tid": tid, "comm": scomm, "fd": fd, "err": err, "flags": flags,
                         "path": path})
            return
        out.row(("%-14.9f" % delta if args.timestamp else "")
                + ("%-6d " % uid if args.print_uid else "")
                + "%-6d %-16s %4d %3d " % (tid if args.tid else pid, scomm, fd, err)
                + ("%08o " % flags if args.extended_fields else "") + path, {})

    cmd = _args.exec_command(args)      # --exec: its pid is the -p filter
    try:
        # the in-flight table (thread -> open's arguments) allocates as opens begin
        with _args.Filters(args) as f, _run.load("opensnoop", f, consts, attach=False,
                                                 on_demand=("start",)) as obj:
            # open() is absent on arm64 and other newer architectures, openat2 before 5.6
            _run.attach_some(obj, optional=("tp_enter_open", "tp_enter_openat2"),
                             also={"tp_exit": EXITS})
            if cmd:
                cmd.start()
            _run.stream("opensnoop", obj, handle, out, header, duration=args.duration)
        if cmd:
            cmd.check()
    finally:
        if cmd:
            cmd.close()
    return 0


def main(argv=None) -> int:
    return _run.main("opensnoop", parser, run, argv)
