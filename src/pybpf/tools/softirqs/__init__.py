"""softirqs: summarize soft IRQ (interrupt) event time or counts, as bcc's softirqs."""

from __future__ import annotations

from .. import _irqs, _run

EXAMPLES = """examples:
    pybpf softirqs            # sum soft irq event time
    pybpf softirqs -d         # show soft irq event time as histograms
    pybpf softirqs -C         # count soft irq events
    pybpf softirqs -c 1      # sum soft irq event time on CPU 1 only
    pybpf softirqs 1 10       # print 1 second summaries, 10 times
    pybpf softirqs -NT 1      # 1s summaries, nanoseconds, and timestamps
    pybpf softirqs --json 1   # one JSON object per interval
"""

# the kernel's softirq_to_name[], in vector order
NAMES = ["hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched",
         "hrtimer", "rcu"]


def vec_name(key: bytes) -> str:
    v = int.from_bytes(key, "little")
    return NAMES[v] if v < len(NAMES) else str(v)


def parser():
    return _irqs.parser("softirqs", "Summarize soft irq event time as histograms", EXAMPLES)


def run(args, out):
    what = "counts" if args.events else "time"
    return _irqs.run("softirqs", args, out, "softirq", 16, vec_name,
                     f"Tracing soft irq event {what}... Hit Ctrl-C to end.")


def main(argv=None) -> int:
    return _run.main("softirqs", parser, run, argv)
