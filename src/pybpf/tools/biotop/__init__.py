"""biotop: block device I/O top, per process, disk and direction (bcc's biotop)."""

from __future__ import annotations

import struct
import time

from .. import _args, _block, _common, _run, _stat

_KEY = struct.Struct("<III16s")
_VAL = struct.Struct("<QQII")

EXAMPLES = """examples:
    pybpf biotop              # block device I/O top, 1 second refresh
    pybpf biotop -C           # don't clear the screen
    pybpf biotop -p 181       # only trace PID 181
    pybpf biotop 5            # 5 second summaries
    pybpf biotop 5 10         # 5 second summaries, 10 times only
    pybpf biotop --json 1     # one JSON object per interval
"""


def parser():
    p = _args.parser("biotop", "Block device (disk) I/O by process", EXAMPLES)
    _args.add_top(p)
    _args.add_pid(p)
    _args.add_interval(p, interval_default=1.0)
    _args.add_json(p, "interval")
    return p


def run(args, out):
    disks = _block.Disks()
    with _args.Filters(args) as f, _run.load("biotop", f, {}, attach=False) as obj:
        _run.attach_some(obj, optional=("io_start",))
        counts = obj.maps["counts"]

        def report():
            rows = []
            for k, v in counts.drain_raw():     # read and cleared at once
                pid, dev, write, comm = _KEY.unpack(k)
                nbytes, us, io, _ = _VAL.unpack(v)
                rows.append((nbytes, pid, _common.cstr(comm),
                             "W" if write else "R", dev, io, us))
            rows.sort(key=lambda r: -r[0])
            rows = rows[:args.maxrows]
            when = time.strftime("%H:%M:%S")
            if out.json:
                out.row("", {"time": when, "loadavg": _stat.loadavg(), "rows": [
                    {"pid": pid, "comm": comm, "d": d, "maj": dev >> 20, "min": dev & 0xFFFFF,
                     "disk": disks.name(dev), "io": io, "kbytes": nbytes // 1024,
                     "avg_ms": round(us / io / 1000, 3) if io else 0.0}
                    for nbytes, pid, comm, d, dev, io, us in rows]})
                return
            _stat.top_screen(out, args.noclear, when)
            w = out.stream.write
            w("%-7s %-16s %1s %-3s %-3s %-8s %5s %7s %6s\n" % (
                "PID", "COMM", "D", "MAJ", "MIN", "DISK", "I/O", "Kbytes", "AVGms"))
            for nbytes, pid, comm, d, dev, io, us in rows:
                w("%-7d %-16s %1s %-3d %-3d %-8s %5s %7s %6.2f\n" % (
                    pid, comm, d, dev >> 20, dev & 0xFFFFF, disks.name(dev), io,
                    nbytes // 1024, us / io / 1000 if io else 0.0))

        _run.intervals("biotop", obj, args, out, report,
                       banner="Tracing... Output every %g secs. Hit Ctrl-C to end" % args.interval)
    return 0


def main(argv=None) -> int:
    return _run.main("biotop", parser, run, argv)
