"""mountsnoop: trace mount() and umount() syscalls, as bcc's mountsnoop."""

from __future__ import annotations

import errno
import struct

from .. import _args, _common, _run

_EV = struct.Struct("<QQQIIiI16s64s128s16s64sI16s")

EXAMPLES = """examples:
    pybpf mountsnoop            # trace mount() and umount() system-wide
    pybpf mountsnoop -p 181     # only trace PID 181
    pybpf mountsnoop -t         # include timestamps
    pybpf mountsnoop -P         # also show the parent process (PCOMM, PPID)
    pybpf mountsnoop --cgroupmap mappath  # only trace cgroups in this BPF map
    pybpf mountsnoop --mntnsmap mappath   # only trace mount namespaces in the map
    pybpf mountsnoop --json     # one JSON object per call
"""

MS_FLAGS = [("MS_RDONLY", 1), ("MS_NOSUID", 2), ("MS_NODEV", 4), ("MS_NOEXEC", 8),
            ("MS_SYNCHRONOUS", 16), ("MS_REMOUNT", 32), ("MS_MANDLOCK", 64),
            ("MS_DIRSYNC", 128), ("MS_NOSYMFOLLOW", 256), ("MS_NOATIME", 1024),
            ("MS_NODIRATIME", 2048), ("MS_BIND", 4096), ("MS_MOVE", 8192), ("MS_REC", 16384),
            ("MS_SILENT", 32768), ("MS_POSIXACL", 1 << 16), ("MS_UNBINDABLE", 1 << 17),
            ("MS_PRIVATE", 1 << 18), ("MS_SLAVE", 1 << 19), ("MS_SHARED", 1 << 20),
            ("MS_RELATIME", 1 << 21), ("MS_KERNMOUNT", 1 << 22), ("MS_I_VERSION", 1 << 23),
            ("MS_STRICTATIME", 1 << 24), ("MS_LAZYTIME", 1 << 25)]
MNT_FLAGS = [("MNT_FORCE", 1), ("MNT_DETACH", 2), ("MNT_EXPIRE", 4), ("UMOUNT_NOFOLLOW", 8)]


def decode_flags(flags: int, table) -> str:
    names = []
    for name, bit in table:
        if flags & bit:
            names.append(name)
            flags &= ~bit
    if flags:
        names.append(hex(flags))
    return "|".join(names) if names else "0x0"


def retval(ret: int) -> str:
    if ret >= 0:
        return str(ret)
    return "-" + errno.errorcode.get(-ret, str(-ret))


def parser():
    p = _args.parser("mountsnoop", "Trace mount() and umount() syscalls", EXAMPLES)
    _args.add_pid(p)
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-P", "--parent_process", action="store_true",
                   help="also snoop the parent process")
    _args.add_maps(p)
    _args.add_json(p, "call")
    return p


def run(args, out):
    clock = _common.Clock()

    def header():
        out.header(("%-9s" % "TIME" if args.timestamp else "")
                   + "{:16} {:<7} {:<7} ".format("COMM", "PID", "TID")
                   + ("{:16} {:<7} ".format("PCOMM", "PPID") if args.parent_process else "")
                   + "{:<11} {}".format("MNT_NS", "CALL"))

    def handle(data):
        ts, flags, ns, pid, tid, ret, op, comm, src, dest, fs, dat, ppid, pcomm = \
            _EV.unpack_from(data)
        comm, src, dest, fs, dat, pcomm = map(_common.cstr, (comm, src, dest, fs, dat, pcomm))
        if op == 0:
            call = 'mount("{}", "{}", "{}", {}, "{}") = {}'.format(
                src, dest, fs, decode_flags(flags, MS_FLAGS), dat, retval(ret))
            fields = {"call": "mount", "source": src, "target": dest, "fstype": fs,
                      "flags": decode_flags(flags, MS_FLAGS), "data": dat}
        else:
            call = 'umount("{}", {}) = {}'.format(dest, decode_flags(flags, MNT_FLAGS),
                                                  retval(ret))
            fields = {"call": "umount", "target": dest,
                      "flags": decode_flags(flags, MNT_FLAGS)}
        if out.json:
            rec = {"time": clock.hms(ts), "comm": comm, "pid": pid, "tid": tid}
            if args.parent_process:
                rec.update(pcomm=pcomm, ppid=ppid)
            out.row("", {**rec, "mnt_ns": ns, **fields, "ret": ret})
            return
        out.row(("%-9s" % clock.hms(ts) if args.timestamp else "")
                + "{:16} {:<7} {:<7} ".format(comm, pid, tid)
                + ("{:16} {:<7} ".format(pcomm, ppid) if args.parent_process else "")
                + "{:<11} {}".format(ns, call), {})

    with _args.Filters(args) as f, _run.load("mountsnoop", f, attach=False) as obj:
        _run.attach_some(obj, also={"tp_exit": (("syscalls", "sys_exit_mount"),)})
        _run.stream("mountsnoop", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("mountsnoop", parser, run, argv)
