"""vfsstat: count file reads, writes, fsyncs, opens and creates per second (bcc's)."""

from __future__ import annotations

import time

from .. import _args, _hist, _run, _syscalls

EXAMPLES = """examples:
    pybpf vfsstat            # every second, until Ctrl-C
    pybpf vfsstat 5 10       # every 5 seconds, 10 times
    pybpf vfsstat -p 181     # only PID 181
    pybpf vfsstat --json 1   # one JSON object per interval
"""

STATS = ["READ", "WRITE", "FSYNC", "OPEN", "CREATE"]
# vfsstat.h's kinds, by syscall name (absent names are skipped on other architectures)
KINDS = {
    1: ("read", "readv", "pread64", "preadv", "preadv2"),
    2: ("write", "writev", "pwrite64", "pwritev", "pwritev2"),
    3: ("fsync", "fdatasync", "sync_file_range"),
    4: ("open",),
    5: ("openat",),
    6: ("openat2",),
    7: ("creat",),
}


def parser():
    p = _args.parser("vfsstat", "Count file reads, writes, fsyncs, opens and creates", EXAMPLES)
    _args.add_pid(p)
    _args.add_cgroup(p)
    _args.add_interval(p, interval_default=1.0)
    _args.add_json(p, "interval")
    return p


def run(args, out):
    with _args.Filters(args) as f, _run.load("vfsstat", f) as obj:
        kinds = obj.maps["kinds"]
        for kind, names in KINDS.items():
            for name in names:
                nr = _syscalls.number(name)
                if nr is not None and nr < kinds.max_entries:
                    kinds.update(nr, bytes([kind]))
        counts = obj.maps["counts"]

        def header():
            # bcc: "TIME" and two spaces (the rows put a colon there)
            out.stream.write("%-8s  " % "TIME" + "".join(" %8s" % (s + "/s") for s in STATS)
                             + "\n")
        printed = [False]

        def report():
            vals = _hist.read_array(counts)
            rate = [v / args.interval for v in vals]
            when = time.strftime("%H:%M:%S")
            if out.json:
                out.row("", {"time": when, "interval": args.interval,
                             **{s.lower(): v for s, v in zip(STATS, vals)}})
                return
            if not printed[0]:
                header()
                printed[0] = True
            out.stream.write("%-8s: " % when + "".join(" %8d" % r for r in rate) + "\n")

        _run.intervals("vfsstat", obj, args, out, report,
                       banner="Tracing... Output every %g secs. Hit Ctrl-C to end" % args.interval)
    return 0


def main(argv=None) -> int:
    return _run.main("vfsstat", parser, run, argv)
