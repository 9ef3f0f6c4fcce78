"""biosnoop: trace block device I/O with process, disk, size and latency (bcc's)."""

from __future__ import annotations

import struct

from .. import _args, _block, _common, _run

_EV = struct.Struct("<QQQQIIII16sI")
PATTERNS = ("?", "S", "R")       # unknown (a disk's first I/O), sequential, random

EXAMPLES = """examples:
    pybpf biosnoop            # trace all block I/O
    pybpf biosnoop -Q         # include OS queued time
    pybpf biosnoop -d vda     # trace vda only
    pybpf biosnoop -P         # display block I/O pattern
    pybpf biosnoop --json     # one JSON object per I/O
"""


def parser():
    p = _args.parser("biosnoop", "Trace block I/O", EXAMPLES)
    p.add_argument("-Q", "--queue", action="store_true", help="include OS queued time")
    p.add_argument("-d", "--disk", help="trace this disk only")
    p.add_argument("-P", "--pattern", action="store_true",
                   help="display block I/O pattern (sequential or random)")
    p.add_argument("-D", "--duration", type=_args.positive_seconds,
                   help="total duration of trace in seconds")
    _args.add_json(p, "I/O")
    return p


def run(args, out):
    disks = _block.Disks()
    consts = {"targ_queued": args.queue, "targ_pattern": args.pattern}
    if args.disk:
        dev = disks.by_name(args.disk)
        if dev is None:
            raise SystemExit(f"error: no disk {args.disk!r} in /sys/block")
        consts["targ_dev"] = dev
    clock = _common.Clock()
    first = [None]

    def header():
        out.header("%-11s %-14s %-7s %-9s %-1s %-10s %-7s" % (
            "TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES")
            + (" %-1s" % "P" if args.pattern else "")
            + (" %7s" % "QUE(ms)" if args.queue else "") + " %7s" % "LAT(ms)")

    def handle(data):
        ts, delta, qdelta, sector, length, dev, flags, pid, comm, pattern = \
            _EV.unpack_from(data)
        if first[0] is None:
            first[0] = ts
        comm = _common.cstr(comm)
        disk = disks.name(dev)
        t = _block.rwbs(flags)
        if out.json:
            rec = {"time": clock.hms(ts), "ts": round((ts - first[0]) / 1e9, 6), "comm": comm,
                   "pid": pid, "disk": disk, "type": t, "flags": _block.flags_text(flags),
                   "sector": sector, "bytes": length, "lat_ms": round(delta / 1e6, 3)}
            if args.queue:
                rec["que_ms"] = round(qdelta / 1e6, 3)
            if args.pattern:
                rec["pattern"] = PATTERNS[pattern] if pattern < 3 else "?"
            out.row("", rec)
            return
        out.row("%-11.6f %-14.14s %-7s %-9s %-1s %-10s %-7s" % (
            (ts - first[0]) / 1e9, comm, pid, disk, t, sector, length)
            + (" %-1s" % (PATTERNS[pattern] if pattern < 3 else "?") if args.pattern else "")
            + (" %7.2f" % (qdelta / 1e6) if args.queue else "") + " %7.2f" % (delta / 1e6), {})

    with _args.Filters(args) as f, \
            _run.load("biosnoop", f, consts, attach=False) as obj:
        _run.attach_some(obj, optional=("io_start",))
        _run.stream("biosnoop", obj, handle, out, header, duration=args.duration)
    return 0


def main(argv=None) -> int:
    return _run.main("biosnoop", parser, run, argv)
