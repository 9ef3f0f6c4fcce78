"""cpudist: summarize on- (or off-) CPU time per task as a histogram, as bcc's cpudist."""

from __future__ import annotations

from .. import _args, _hist, _run

EXAMPLES = """examples:
    pybpf cpudist              # summarize on-CPU time as a histogram
    pybpf cpudist -O           # summarize off-CPU time as a histogram
    pybpf cpudist 1 10         # print 1 second summaries, 10 times
    pybpf cpudist -mT 1        # 1s summaries, milliseconds, and timestamps
    pybpf cpudist -P           # show each PID separately
    pybpf cpudist -p 185       # trace PID 185 only
    pybpf cpudist -I           # include CPU idle time
    pybpf cpudist -e           # show extension summary (average/total/count)
    pybpf cpudist --json 1     # one JSON object per interval
"""


def parser():
    p = _args.parser("cpudist", "Summarize on- and off-CPU time per task as a histogram",
                     EXAMPLES)
    p.add_argument("-O", "--offcpu", action="store_true", help="measure off-CPU time")
    _hist.add_task_options(p)
    p.add_argument("-I", "--include-idle", action="store_true", help="include CPU idle time")
    p.add_argument("-e", "--extension", action="store_true",
                   help="show extension summary (average/total/count)")
    return p


def run(args, out):
    return _hist.run_task_hists("cpudist", args, out,
                                {"offcpu": args.offcpu, "include_idle": args.include_idle,
                                 "extension": args.extension},
                                "Tracing %s-CPU time... Hit Ctrl-C to end." % (
                                    "off" if args.offcpu else "on"))


def main(argv=None) -> int:
    return _run.main("cpudist", parser, run, argv)
