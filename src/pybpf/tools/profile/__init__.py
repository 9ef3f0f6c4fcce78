"""profile: sample stack traces at a timed interval (kernel and user), as bcc's profile."""

from __future__ import annotations

import sys
import time

from .. import _args, _common, _run, _stackcount

EXAMPLES = """examples:
    pybpf profile             # profile stack traces at 49 Hertz until Ctrl-C
    pybpf profile -F 99       # profile stack traces at 99 Hertz
    pybpf profile -c 1000000  # profile stack traces every 1 in a million events
    pybpf profile 5           # profile at 49 Hertz for 5 seconds only
    pybpf profile -f 5        # output in folded format for flame graphs
    pybpf profile -p 185      # only profile process with PID 185
    pybpf profile -L 185      # only profile thread with TID 185
    pybpf profile -U          # only show user space stacks (no kernel)
    pybpf profile -K          # only show kernel space stacks (no user)
    pybpf profile --json 5    # one JSON object per stack
"""


def parser():
    p = _args.parser("profile", "Profile CPU stack traces at a timed interval", EXAMPLES)
    _args.add_pid(p, tid=True)
    g = p.add_mutually_exclusive_group()
    g.add_argument("-U", "--user-stacks-only", action="store_true",
                   help="show stacks from user space only (no kernel space stacks)")
    g.add_argument("-K", "--kernel-stacks-only", action="store_true",
                   help="show stacks from kernel space only (no user space stacks)")
    s = p.add_mutually_exclusive_group()
    s.add_argument("-F", "--frequency", type=_args.positive_int,
                   help="sample frequency, Hertz")
    s.add_argument("-c", "--count", dest="period", type=_args.positive_int,
                   help="sample period, number of events")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert delimiter between kernel/user stacks")
    p.add_argument("-I", "--include-idle", action="store_true",
                   help="include CPU idle stacks")
    _args.add_lines(p)
    p.add_argument("-f", "--folded", action="store_true",
                   help="output folded format, one line per stack (for flame graphs)")
    p.add_argument("--stack-storage-size", type=_args.positive_int, default=16384,
                   help="the number of unique stack traces that can be stored")
    p.add_argument("-C", "--cpu", type=int, default=-1, help="cpu number to run profile on")
    _args.add_cgroup(p, flags=("--cgroup",))
    _args.add_maps(p)
    p.add_argument("duration", nargs="?", type=_args.positive_int, default=99999999,
                   help="duration of trace, in seconds")
    _args.add_json(p, "stack")
    return p


def run(args, out):
    from ...links import perf_event
    consts = {"include_idle": args.include_idle, "user_only": args.user_stacks_only,
              "kernel_only": args.kernel_stacks_only, "targ_cpu": args.cpu}
    freq = args.frequency or (0 if args.period else 49)
    with _args.Filters(args) as f, _run.load("profile", f, consts, attach=False) as obj:
        obj.links.append(perf_event.attach(
            obj.programs["do_sample"], sample_freq=freq, sample_period=args.period or 0,
            cpu=args.cpu if args.cpu >= 0 else None))
        how = f"{freq} Hertz" if freq else f"every {args.period} events"
        span = "until Ctrl-C" if args.duration == 99999999 else f"for {args.duration} secs"
        banner = f"Sampling at {how} of all threads by user + kernel stack {span}."
        try:
            if not args.folded and not out.json:
                out.header(banner)
            else:
                # folded and JSON output are for programs: the banner goes to stderr
                print(banner, file=sys.stderr, flush=True)
            time.sleep(args.duration)
        except _common.Stop:
            pass
        _run.ignore_signals_now()
        _stackcount.report(out, obj.maps["counts"], obj.maps["stacks"], args)
        out.flush()
        _common.DropReporter("profile", obj.maps["drops"]).check(force=True)
    return 0


def main(argv=None) -> int:
    return _run.main("profile", parser, run, argv)
