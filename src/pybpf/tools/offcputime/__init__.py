"""offcputime: summarize off-CPU time by stack trace (kernel and user), as bcc's."""

from __future__ import annotations

from .. import _args, _common, _run, _stackcount

EXAMPLES = """examples:
    pybpf offcputime             # trace off-CPU stack time until Ctrl-C
    pybpf offcputime 5           # trace for 5 seconds only
    pybpf offcputime -f 5        # 5 seconds, and output in folded format
    pybpf offcputime -s 5        # 5 seconds, and show symbol offsets
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
    _stackcount.add_stack_kinds(p)
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert delimiter between kernel/user stacks")
    _stackcount.add_stack_output(p)
    p.add_argument("-s", "--offset", action="store_true", help="show address offsets")
    usecs = _common.int_range(0, (1 << 64) - 1, "microseconds")
    p.add_argument("-m", "--min-block-time", type=usecs, default=1,
                   help="the amount of time in microseconds over which we store traces")
    p.add_argument("-M", "--max-block-time", type=usecs, default=(1 << 64) - 1,
                   help="the amount of time in microseconds under which we store traces")
    p.add_argument("--state", type=_common.int_range(0, (1 << 63) - 1, "a state bitmask"),
                   help="filter on this thread state bitmask")
    _args.add_cgroup(p, flags=("-c", "--cgroup"))
    _args.add_maps(p)
    _stackcount.add_duration(p)
    return p


def run(args, out):
    if args.folded and args.offset:
        raise SystemExit("error: can only use -f or -s")
    if args.min_block_time > args.max_block_time:
        # bcc runs on and records nothing: no block time is in that range
        raise SystemExit("error: -m (min block time) can't be greater than -M (max block time)")
    consts = {"user_threads_only": args.user_threads_only,
              "kernel_threads_only": args.kernel_threads_only,
              "user_only": args.user_stacks_only, "kernel_only": args.kernel_stacks_only,
              "min_block_us": args.min_block_time, "max_block_us": args.max_block_time}
    if args.state is not None:
        consts["targ_state"] = args.state
    with _args.Filters(args) as f:
        _stackcount.sized_maps(f, args)
        return _trace(args, out, f, consts)


def _trace(args, out, f, consts):
    with _run.load("offcputime", f, consts) as obj:
        # bcc's words for the threads traced
        who = f"PID {args.pid}" if args.pid else f"TID {args.tid}" if args.tid else \
            "user threads" if args.user_threads_only else \
            "kernel threads" if args.kernel_threads_only else "all threads"
        _stackcount.collect("offcputime", obj, args, out,
                            f"Tracing off-CPU time (us) of {who} by "
                            f"{_stackcount.stack_words(args)} stack{_stackcount.span(args)}",
                            json_value="total_us",
                            stop_first=True)
    return 0


def main(argv=None) -> int:
    return _run.main("offcputime", parser, run, argv)
