"""runqlat: summarize run queue (scheduler) latency as a histogram, as bcc's runqlat."""

from __future__ import annotations

from .. import _args, _hist, _run

EXAMPLES = """examples:
    pybpf runqlat            # summarize run queue latency as a histogram
    pybpf runqlat 1 10       # print 1 second summaries, 10 times
    pybpf runqlat -mT 1      # 1s summaries, milliseconds, and timestamps
    pybpf runqlat -P         # show each PID separately
    pybpf runqlat -L         # show each TID separately
    pybpf runqlat --pidnss   # show each PID namespace separately
    pybpf runqlat -p 185     # trace PID 185 only
    pybpf runqlat -c CG      # trace tasks of cgroup CG only
    pybpf runqlat --json 1   # one JSON object per interval
"""


def parser():
    p = _args.parser("runqlat", "Summarize run queue (scheduler) latency as a histogram",
                     EXAMPLES)
    _hist.add_task_options(p)
    p.add_argument("--pidnss", action="store_true", help="print a histogram per PID namespace")
    return p


def run(args, out):
    if args.pidnss and (args.pids or args.tids):
        raise SystemExit("error: --pidnss and -P/-L are exclusive")
    return _hist.run_task_hists("runqlat", args, out, {"by_pidns": args.pidnss},
                                "Tracing run queue latency... Hit Ctrl-C to end.",
                                stretches="run-queue waits")


def main(argv=None) -> int:
    return _run.main("runqlat", parser, run, argv)
