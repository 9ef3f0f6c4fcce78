"""filetop: file reads and writes by process and file, top-style (bcc's filetop)."""

from __future__ import annotations

import struct
import time

from .. import _args, _common, _run

_KEY = struct.Struct("<IIQIc3s16s32s")
_VAL = struct.Struct("<QQQQ")
SORTS = {"all": lambda r: r[1] + r[2] + r[3] + r[4], "reads": lambda r: r[1],
         "writes": lambda r: r[2], "rbytes": lambda r: r[3], "wbytes": lambda r: r[4]}

EXAMPLES = """examples:
    pybpf filetop            # file I/O top, 1 second refresh
    pybpf filetop -C         # don't clear the screen
    pybpf filetop -p 181     # PID 181 only
    pybpf filetop 5          # 5 second summaries
    pybpf filetop 5 10       # 5 second summaries, 10 times only
    pybpf filetop -a         # all files (sockets, pipes...), not only regular ones
    pybpf filetop -s wbytes  # sort by bytes written
    pybpf filetop --read-only   # trace only reads
    pybpf filetop --write-only  # trace only writes
    pybpf filetop -d /home/user # trace files in /home/user directory only
    pybpf filetop --json 1   # one JSON object per interval
"""


def parser():
    p = _args.parser("filetop", "File reads and writes by process", EXAMPLES)
    p.add_argument("-a", "--all-files", action="store_true",
                   help="include non-regular file types (sockets, FIFOs, etc)")
    _args.add_top(p)
    p.add_argument("-s", "--sort", choices=sorted(SORTS), default="all",
                   help="sort column, default all")
    _args.add_pid(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--read-only", action="store_true", help="trace only reads")
    g.add_argument("--write-only", action="store_true", help="trace only writes")
    _args.add_interval(p, interval_default=1.0)
    p.add_argument("-d", "--directory", help="trace this directory only")
    _args.add_json(p, "interval")
    return p


_CALLS = {"read": ("read", "pread64", "readv", "preadv"),
          "write": ("write", "pwrite64", "writev", "pwritev")}


def _programs(args):
    """The syscalls' programs to load: --read-only/--write-only leave the other half out
    (bcc attaches vfs_read or vfs_write only)."""
    if not (args.read_only or args.write_only):
        return None
    return [f"{side}_{c}" for c in _CALLS["read" if args.read_only else "write"]
            for side in ("enter", "exit")]


def _directory(path: str) -> dict:
    """-d: the directory's inode number (the BPF side compares the parent's)."""
    import os
    import stat
    try:
        st = os.stat(path)
    except OSError as e:
        raise SystemExit(f"error: directory {path!r}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise SystemExit(f"error: {path!r} is not a directory")
    return {"dir_ino": st.st_ino}


def run(args, out):
    from .. import _stat
    consts = {"regular_only": not args.all_files}
    if args.directory is not None:
        consts.update(_directory(args.directory))
    with _args.Filters(args) as f, _run.load("filetop", f, consts, programs=_programs(args),
                                             attach=False) as obj:
        _run.attach_some(obj, optional=tuple(n for n in obj.programs
                                             if n.endswith(("readv", "writev"))))
        counts = obj.maps["counts"]

        def report():
            rows = []
            for k, v in counts.drain_raw():     # read and cleared at once
                pid, tid, ino, dev, typ, _, comm, name = _KEY.unpack(k)
                reads, writes, rb, wb = _VAL.unpack(v)
                rows.append(((pid, tid, _common.cstr(comm),
                              _common.cstr(name),
                              typ.decode(), ino), reads, writes, rb, wb))
            rows.sort(key=SORTS[args.sort], reverse=True)
            rows = rows[:args.maxrows]
            when = time.strftime("%H:%M:%S")
            if out.json:
                out.row("", {"time": when, "loadavg": _stat.loadavg(), "rows": [
                    {"tid": k[1], "pid": k[0], "comm": k[2], "reads": r, "writes": w,
                     "r_kb": rb // 1024, "w_kb": wb // 1024, "type": k[4], "file": k[3]}
                    for k, r, w, rb, wb in rows]})
                return
            _stat.top_screen(out, args.noclear, when)
            o = out.stream.write
            o("%-7s %-16s %-6s %-6s %-7s %-7s %1s %s\n" % (
                "TID", "COMM", "READS", "WRITES", "R_Kb", "W_Kb", "T", "FILE"))
            for k, r, w, rb, wb in rows:
                o("%-7d %-16s %-6d %-6d %-7d %-7d %1s %s\n" % (
                    k[1], k[2], r, w, rb // 1024, wb // 1024, k[4], k[3]))

        _run.intervals("filetop", obj, args, out, report,
                       banner="Tracing... Output every %g secs. Hit Ctrl-C to end" % args.interval)
    return 0


def main(argv=None) -> int:
    return _run.main("filetop", parser, run, argv)
