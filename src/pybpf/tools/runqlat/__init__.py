"""runqlat: summarize run queue (scheduler) latency as a histogram, as bcc's runqlat."""

from __future__ import annotations

from .. import _args, _hist, _run

EXAMPLES = """examples:
    pybpf runqlat            # summarize run queue latency as a histogram
    pybpf runqlat 1 10       # print 1 second summaries, 10 times
    pybpf runqlat -mT 1      # 1s summaries, milliseconds, and timestamps
    pybpf runqlat -P         # show each PID separately
    pybpf runqlat -L         # show each TID separately
    pybpf runqlat -p 185     # trace PID 185 only
    pybpf runqlat -c CG      # trace tasks of cgroup CG only
    pybpf runqlat --json 1   # one JSON object per interval
"""


def parser():
    p = _args.parser("runqlat", "Summarize run queue (scheduler) latency as a histogram",
                     EXAMPLES)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="millisecond histogram")
    p.add_argument("-P", "--pids", action="store_true", help="print a histogram per process ID")
    p.add_argument("-L", "--tids", action="store_true", help="print a histogram per thread ID")
    _args.add_pid(p)
    _args.add_cgroup(p)
    _args.add_interval(p)
    _args.add_json(p, "interval")
    return p


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def comm_label(pid: int) -> str:
    """bcc's section label for a pid: the pid and, while it lives, its name."""
    c = comm(pid)
    return f"{pid} {c}" if c else str(pid)


def hist_report(obj, args, out, unit: str, section: str | None, label=None,
                json_fields=None, linear: bool = False):
    """The report of a tool with one histogram map ``hists`` keyed by a u32."""
    import time

    def report():
        hists = _hist.read(obj.maps["hists"])
        when = time.strftime("%H:%M:%S") if args.timestamp or out.json else None
        if not out.json:
            out.stream.write("\n")
        _hist.print_sections(out, {int.from_bytes(k, "little"): v for k, v in hists.items()},
                             unit, section, label, time_line=when, linear=linear,
                             json_fields=json_fields)
    return report


def run(args, out):
    if args.pids and args.tids:
        raise SystemExit("error: -P and -L are exclusive")
    consts = {"by_pid": args.pids, "by_tid": args.tids, "millis": args.milliseconds}
    section = "pid" if args.pids else "tid" if args.tids else None
    unit = "msecs" if args.milliseconds else "usecs"
    with _args.Filters(args) as f, _run.load("runqlat", f, consts) as obj:
        _run.intervals("runqlat", obj, args, out,
                       hist_report(obj, args, out, unit, section,
                                   comm_label if section else None,
                                   lambda k: {"comm": comm(k)}),
                       banner="Tracing run queue latency... Hit Ctrl-C to end.")
    return 0


def main(argv=None) -> int:
    return _run.main("runqlat", parser, run, argv)
