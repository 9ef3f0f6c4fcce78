"""hardirqs: summarize hard IRQ (interrupt) event time or counts, as bcc's hardirqs."""

from __future__ import annotations

from .. import _common, _irqs, _run

EXAMPLES = """examples:
    pybpf hardirqs            # sum hard irq event time
    pybpf hardirqs -d         # show hard irq event time as histograms
    pybpf hardirqs -C         # count hard irq events
    pybpf hardirqs -c 1      # sum hard irq event time on CPU 1 only
    pybpf hardirqs 1 10       # print 1 second summaries, 10 times
    pybpf hardirqs -NT 1      # 1s summaries, nanoseconds, and timestamps
    pybpf hardirqs --json 1   # one JSON object per interval
"""


def parser():
    return _irqs.parser("hardirqs", "Summarize hard irq event time as histograms", EXAMPLES)


def run(args, out):
    what = "counts" if args.events else "time"
    return _irqs.run("hardirqs", args, out, "hardirq", 26,
                     _common.cstr,
                     f"Tracing hard irq event {what}... Hit Ctrl-C to end.")


def main(argv=None) -> int:
    return _run.main("hardirqs", parser, run, argv)
