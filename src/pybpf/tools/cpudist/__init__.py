"""cpudist: summarize on- (or off-) CPU time per task as a histogram, as bcc's cpudist."""

from __future__ import annotations

from .. import _args, _run
from ..runqlat import comm, comm_label, hist_report

EXAMPLES = """examples:
    pybpf cpudist              # summarize on-CPU time as a histogram
    pybpf cpudist -O           # summarize off-CPU time as a histogram
    pybpf cpudist 1 10         # print 1 second summaries, 10 times
    pybpf cpudist -mT 1        # 1s summaries, milliseconds, and timestamps
    pybpf cpudist -P           # show each PID separately
    pybpf cpudist -p 185       # trace PID 185 only
    pybpf cpudist --json 1     # one JSON object per interval
"""


def parser():
    p = _args.parser("cpudist", "Summarize on- and off-CPU time per task as a histogram",
                     EXAMPLES)
    p.add_argument("-O", "--offcpu", action="store_true", help="measure off-CPU time")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-P", "--pids", action="store_true", help="print a histogram per process ID")
    p.add_argument("-L", "--tids", action="store_true", help="print a histogram per thread ID")
    _args.add_pid(p)
    _args.add_cgroup(p)
    _args.add_interval(p)
    _args.add_json(p, "interval")
    return p


def run(args, out):
    if args.pids and args.tids:
        raise SystemExit("error: -P and -L are exclusive")
    consts = {"by_pid": args.pids, "by_tid": args.tids, "millis": args.milliseconds,
              "offcpu": args.offcpu}
    section = "pid" if args.pids else "tid" if args.tids else None
    unit = "msecs" if args.milliseconds else "usecs"
    with _args.Filters(args) as f, _run.load("cpudist", f, consts) as obj:
        _run.intervals("cpudist", obj, args, out,
                       hist_report(obj, args, out, unit, section,
                                   comm_label if section else None,
                                   lambda k: {"comm": comm(k)}),
                       banner="Tracing %s-CPU time... Hit Ctrl-C to end." % (
                           "off" if args.offcpu else "on"))
    return 0


def main(argv=None) -> int:
    return _run.main("cpudist", parser, run, argv)
