"""runqlen: summarize scheduler run queue length as a histogram, as bcc's runqlen."""

from __future__ import annotations

import time

from .. import _args, _hist, _run

MAX_CPUS, MAX_LEN = 128, 32     # runqlen.h
FREQ = 99

EXAMPLES = """examples:
    pybpf runqlen            # summarize run queue length as a histogram
    pybpf runqlen 1 10       # print 1 second summaries, 10 times
    pybpf runqlen -T 1       # 1s summaries and timestamps
    pybpf runqlen -O         # report run queue occupancy
    pybpf runqlen -C         # show each CPU separately
    pybpf runqlen -c CG      # only samples taken while a task of cgroup CG runs
    pybpf runqlen --json 1   # one JSON object per interval
"""


def parser():
    p = _args.parser("runqlen", "Summarize scheduler run queue length as a histogram",
                     EXAMPLES)
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-O", "--runqocc", action="store_true", help="report run queue occupancy")
    p.add_argument("-C", "--cpus", action="store_true", help="print output for each CPU")
    _args.add_cgroup(p, flags=("-c", "--cgroup"))
    _args.add_interval(p)
    _args.add_json(p, "interval")
    return p


def run(args, out):
    from ...links import perf_event
    with _args.Filters(args) as f, _run.load("runqlen", f, {"per_cpu": args.cpus},
                                             attach=False) as obj:
        obj.links.append(perf_event.attach(obj.programs["do_sample"], sample_freq=FREQ))
        lens = obj.maps["lens"]

        def report():
            counts = _hist.read_array(lens)
            per = {}
            for cpu in range(MAX_CPUS if args.cpus else 1):
                row = counts[cpu * MAX_LEN:(cpu + 1) * MAX_LEN]
                if any(row):
                    per[cpu] = row
            when = time.strftime("%H:%M:%S") if args.timestamp or out.json else None
            if args.runqocc:
                occ = {cpu: (100.0 * sum(r[1:]) / sum(r) if sum(r) else 0.0)
                       for cpu, r in per.items()}
                if out.json:
                    out.row("", {"time": when, "occupancy": [
                        ({"cpu": c} if args.cpus else {}) | {"runqocc": round(v, 2),
                                                             "samples": sum(per[c])}
                        for c, v in occ.items()]})
                    return
                w = out.stream.write
                w("\n")
                if when:
                    w(when + "\n")
                for c, v in occ.items():
                    w(("runqocc, CPU %-3d %6.2f%%\n" % (c, v)) if args.cpus
                      else "runqocc: %0.2f%%\n" % v)
                return
            if not out.json:
                out.stream.write("\n")
            _hist.print_sections(out, per, "runqlen", "cpu" if args.cpus else None,
                                 linear=True, time_line=when)

        _run.intervals("runqlen", obj, args, out, report,
                       banner="Sampling run queue length... Hit Ctrl-C to end.")
    return 0


def main(argv=None) -> int:
    return _run.main("runqlen", parser, run, argv)
