"""What hardirqs and softirqs share: options, and the report of in-kernel totals or
histograms per interrupt (bcc's columns)."""

from __future__ import annotations

import time

from . import _args, _hist, _run


def parser(tool: str, description: str, examples: str):
    p = _args.parser(tool, description, examples)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-N", "--nanoseconds", action="store_true",
                   help="output in nanoseconds")
    p.add_argument("-C", "--count", dest="events", action="store_true",
                   help="show event counts instead of timing")
    p.add_argument("-d", "--dist", action="store_true", help="show distributions as histograms")
    p.add_argument("-c", "--cpu", type=_cpu_arg, help="trace this CPU only")
    _args.add_interval(p)
    _args.add_json(p, "interval")
    return p


def _cpu_arg(text: str) -> int:
    """A CPU number that exists here (bcc's -c; the kernel's CPU ids are 0..n-1)."""
    import os
    from ._common import int_range
    return int_range(0, (os.cpu_count() or 1) - 1, "a CPU number")(text)


def run(tool: str, args, out, kind: str, width: int, name_of, banner: str) -> int:
    if args.events and args.dist:
        raise SystemExit("error: -C and -d are exclusive")
    consts = {"do_count": args.events, "do_dist": args.dist, "nanos": args.nanoseconds}
    if args.cpu is not None:
        consts["targ_cpu"] = args.cpu
    unit = "nsecs" if args.nanoseconds else "usecs"
    div = 1 if args.nanoseconds else 1000
    with _args.Filters(args) as f, _run.load(tool, f, consts) as obj:
        totals = obj.maps["totals"]

        def report():
            when = time.strftime("%H:%M:%S")
            if args.dist:
                hists = {name_of(k): v for k, v in _hist.read(obj.maps["hists"]).items()}
                if not out.json:
                    out.stream.write("\n")
                _hist.print_sections(out, hists, unit, kind,
                                     time_line=when if args.timestamp or out.json else None)
                return
            rows = []
            for k, v in totals.drain_raw():     # read and cleared at once
                rows.append((name_of(k), int.from_bytes(v, "little")))
            rows.sort(key=lambda r: r[1])
            col = "TOTAL_count" if args.events else f"TOTAL_{unit}"
            if out.json:
                field = "count" if args.events else f"total_{unit}"
                out.row("", {"time": when, "rows": [
                    {kind: n, field: v if args.events else v // div} for n, v in rows]})
                return
            w = out.stream.write
            w("\n")
            if args.timestamp:
                w(f"{when}\n")
            w(f"%-{width}s %11s\n" % (kind.upper(), col))
            for n, v in rows:
                w(f"%-{width}s %11d\n" % (n, v if args.events else v // div))

        _run.intervals(tool, obj, args, out, report, banner=banner)
    return 0
