"""offcputime: summarize off-CPU time by stack trace (kernel and user), as bcc's."""

from __future__ import annotations

import sys
import time

from .. import _args, _common, _run, _stackcount

EXAMPLES = """examples:
    pybpf offcputime             # trace off-CPU stack time until Ctrl-C
    pybpf offcputime 5           # trace for 5 seconds only
    pybpf offcputime -f 5        # 5 seconds, and output in folded format
    pybpf offcputime -m 1000     # trace only events that last more than 1000 usec
    pybpf offcputime -M 10000    # trace only events that last less than 10000 usec
    pybpf offcputime -p 185      # only trace threads for PID 185
    pybpf offcputime -t 188      # only trace thread 188
    pybpf offcputime -u          # only trace user threads (no kernel)
    pybpf offcputime -k          # only trace kernel threads (no user)
    pybpf offcputime -U          # only show user space stacks (no kernel)
    pybpf offcputime -K          # only show kernel space stacks (no user)
    pybpf offcputime --state 2   # only blocked in TASK_UNINTERRUPTIBLE
    pybpf offcputime --json 5    # one JSON object per stack
"""


def parser():
    p = _args.parser("offcputime", "Summarize off-CPU time by stack trace", EXAMPLES)
    _args.add_pid(p, tid=True, tid_flags=("-t", "--tid"))
    g = p.add_mutually_exclusive_group()
    g.add_argument("-u", "--user-threads-only", action="store_true",
                   help="user threads only (no kernel threads)")
    g.add_argument("-k", "--kernel-threads-only", action="store_true",
                   help="kernel threads only (no user threads)")
    s = p.add_mutually_exclusive_group()
    s.add_argument("-U", "--user-stacks-only", action="store_true",
                   help="show stacks from user space only (no kernel space stacks)")
    s.add_argument("-K", "--kernel-stacks-only", action="store_true",
                   help="show stacks from kernel space only (no user space stacks)")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert delimiter between kernel/user stacks")
    _args.add_lines(p)
    p.add_argument("-f", "--folded", action="store_true", help="output folded format")
    p.add_argument("--stack-storage-size", type=_args.positive_int, default=16384,
                   help="the number of unique stack traces that can be stored")
    p.add_argument("-m", "--min-block-time", type=int, default=1,
                   help="the amount of time in microseconds over which we store traces")
    p.add_argument("-M", "--max-block-time", type=int, default=(1 << 64) - 1,
                   help="the amount of time in microseconds under which we store traces")
    p.add_argument("--state", type=int, help="filter on this thread state bitmask")
    _args.add_cgroup(p, flags=("-c", "--cgroup"))
    _args.add_maps(p)
    p.add_argument("duration", nargs="?", type=_args.positive_int, default=99999999,
                   help="duration of trace, in seconds")
    _args.add_json(p, "stack")
    return p


def run(args, out):
    consts = {"user_threads_only": args.user_threads_only,
              "kernel_threads_only": args.kernel_threads_only,
              "user_only": args.user_stacks_only, "kernel_only": args.kernel_stacks_only,
              "min_block_us": args.min_block_time, "max_block_us": args.max_block_time}
    if args.state is not None:
        consts["targ_state"] = args.state
    with _args.Filters(args) as f, _run.load("offcputime", f, consts) as obj:
        what = "user + kernel" if not (args.user_stacks_only or args.kernel_stacks_only) \
            else "user" if args.user_stacks_only else "kernel"
        span = "until Ctrl-C" if args.duration == 99999999 else f"for {args.duration} secs"
        banner = f"Tracing off-CPU time (us) of all threads by {what} stack {span}."
        try:
            if args.folded or out.json:
                print(banner, file=sys.stderr, flush=True)
            else:
                out.header(banner)
            time.sleep(args.duration)
        except _common.Stop:
            pass
        _run.ignore_signals_now()
        for link in obj.links:      # stop counting before reading
            link.close()
        _stackcount.report(out, obj.maps["counts"], obj.maps["stacks"], args,
                           json_value="total_us")
        out.flush()
        _common.DropReporter("offcputime", obj.maps["drops"]).check(force=True)
    return 0


def main(argv=None) -> int:
    return _run.main("offcputime", parser, run, argv)
