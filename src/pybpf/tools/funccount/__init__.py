"""funccount: count function calls, USDT probes or tracepoints matching a pattern (bcc's)."""

from __future__ import annotations

import sys
import time

from .. import _args, _common, _hist, _probes, _run

MAX_PROBES = 1024       # funccount.h

EXAMPLES = """examples:
    pybpf funccount 'c:malloc'            # count malloc() calls in the C library
    pybpf funccount 'c:str*'              # count libc functions starting with str
    pybpf funccount '/bin/bash:readline'  # a function of a binary
    pybpf funccount 't:sched:sched_*'     # count scheduler tracepoints
    pybpf funccount 'u:/usr/bin/python3:function__entry'   # a USDT probe
    pybpf funccount -r 'c:^mem(cpy|set)$' # a regular expression
    pybpf funccount -p 181 -i 1 'c:malloc'   # PID 181, every second
    pybpf funccount 'vfs_*'               # kernel functions (needs kprobes)
    pybpf funccount --json -d 5 'c:malloc'   # one JSON object per interval
"""


def parser():
    p = _args.parser("funccount", "Count functions, tracepoints, and USDT probes", EXAMPLES)
    _args.add_pid(p)
    _args.add_summary(p)
    _args.add_regexp(p)
    p.add_argument("-D", "--debug", action="store_true", help="print the probes attached")
    p.add_argument("-c", "--cpu", type=_common.int_range(0, 65535, "a CPU number"),
                   help="trace this CPU only")
    p.add_argument("pattern", help="search expression for events")
    _args.add_json(p, "interval")
    return p


def run(args, out):
    from ... import errors
    family, probes = _probes.resolve_present(args.pattern, args.regexp, MAX_PROBES)
    multi = _probes.use_multi(family, probes)
    prog_name = _probes.program("count", family, multi)
    _args.interval_count(args)
    with _args.Filters(args) as f, _run.load("funccount", f, programs=[prog_name],
                                             attach=False) as obj:
        prog = obj.programs[prog_name]
        attached = 0
        if multi:
            links, refused = _probes.attach_multi(family, prog, probes, args.pid or -1)
            obj.links.extend(links)
            attached = len(probes) - len(refused)
            for i, e in refused.items():
                if args.debug:
                    print(f"funccount: skipping {probes[i][0]}: {e}", file=sys.stderr)
        for i, (name, how) in enumerate(probes if not multi else ()):
            try:
                obj.links.append(_probes.attach(family, prog, how, i, args.pid or -1))
                attached += 1
            except (errors.NotFoundError, errors.AttachError, errors.KernelError) as e:
                if args.debug or len(probes) == 1:
                    if len(probes) == 1:
                        raise
                    print(f"funccount: skipping {name}: {e}", file=sys.stderr)
        counts = obj.maps["counts"]
        # the counts are per CPU: -c reads one CPU's (bcc filters in the program, and
        # takes -c 0 for "all": its test is ``if self.cpu``)
        if args.cpu is not None and args.cpu >= counts.ncpus:
            raise SystemExit(f"error: -c {args.cpu}: this machine's CPUs are 0 to "
                             f"{counts.ncpus - 1}")

        def report():
            vals = _hist.read_array(counts, cpu=args.cpu)
            rows = sorted(((v, probes[i][0]) for i, v in enumerate(vals[:len(probes)]) if v))
            when = time.strftime("%H:%M:%S")
            if out.json:
                out.row("", {"time": when, "counts": [{"func": n, "count": v}
                                                      for v, n in rows]})
                return
            w = out.stream.write
            w("\n")
            if args.timestamp:
                w(when + "\n")
            w("%-36s %8s\n" % ("FUNC", "COUNT"))
            for v, n in rows:
                w("%-36s %8d\n" % (n, v))

        _run.intervals("funccount", obj, args, out, report,
                       banner='Tracing %d functions for "%s"... Hit Ctrl-C to end.' % (
                           attached, args.pattern))
    return 0


def main(argv=None) -> int:
    return _run.main("funccount", parser, run, argv)
