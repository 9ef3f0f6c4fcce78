"""profile: sample stack traces at a timed interval (kernel and user), as bcc's profile."""

from __future__ import annotations

from .. import _args, _common, _run, _stackcount

EXAMPLES = """examples:
    pybpf profile             # profile stack traces at 49 Hertz until Ctrl-C
    pybpf profile -F 99       # profile stack traces at 99 Hertz
    pybpf profile -c 1000000  # profile stack traces every 1 in a million events
    pybpf profile 5           # profile at 49 Hertz for 5 seconds only
    pybpf profile -f 5        # output in folded format for flame graphs
    pybpf profile -p 185      # only profile process with PID 185
    pybpf profile -L 185      # only profile thread with TID 185
    pybpf profile -p 185,186  # only profile these two processes
    pybpf profile -U          # only show user space stacks (no kernel)
    pybpf profile -K          # only show kernel space stacks (no user)
    pybpf profile -af 5       # folded output, kernel frames annotated _[k]
    pybpf profile -A 5        # show raw addresses before the frames
    pybpf profile --json 5    # one JSON object per stack
"""


def parser():
    p = _args.parser("profile", "Profile CPU stack traces at a timed interval", EXAMPLES)
    ids = p.add_mutually_exclusive_group()
    ids.add_argument("-p", "--pid", type=_common.pid_list, metavar="PID",
                     help="profile process with one or more comma separated PIDs only")
    ids.add_argument("-L", "--tid", type=_common.pid_list, metavar="TID",
                     help="profile thread with one or more comma separated TIDs only")
    _stackcount.add_stack_kinds(p)
    s = p.add_mutually_exclusive_group()
    s.add_argument("-F", "--frequency", type=_args.positive_int,
                   help="sample frequency, Hertz")
    s.add_argument("-c", "--count", dest="period", type=_args.positive_int,
                   help="sample period, number of events")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert delimiter between kernel/user stacks")
    p.add_argument("-a", "--annotations", action="store_true",
                   help="add _[k] annotations to kernel frames")
    p.add_argument("-I", "--include-idle", action="store_true",
                   help="include CPU idle stacks")
    _stackcount.add_stack_output(
        p, "output folded format, one line per stack (for flame graphs)")
    p.add_argument("-C", "--cpu", type=_common.int_range(-1, 65535, "a CPU number"), default=-1,
                   help="cpu number to run profile on")
    _args.add_cgroup(p, flags=("--cgroup",))
    _args.add_maps(p)
    p.add_argument("-A", "--address", action="store_true", help="show raw addresses")
    p.add_argument("--hash-storage-size", type=_args.positive_int, default=40960,
                   help="the number of hash keys that can be stored and (default 40960)")
    _stackcount.add_duration(p)
    return p


MAX_IDS = 1024          # profile.bpf.c's ids map


def run(args, out):
    consts = {"include_idle": args.include_idle, "user_only": args.user_stacks_only,
              "kernel_only": args.kernel_stacks_only, "targ_cpu": args.cpu}
    # one id: the shared -p/-L constant; more: the ids map
    ids = args.pid or args.tid or []
    if len(ids) > MAX_IDS:
        raise SystemExit(f"error: at most {MAX_IDS} PIDs or TIDs")
    by_pid = args.tid is None
    one = ids[0] if len(ids) == 1 else None
    if len(ids) > 1:
        consts.update(filter_ids=True, ids_are_tids=not by_pid)
    # the caller's namespace stays as parsed: Filters reads -p/-t from a copy that holds
    # one id (more go to the ids map)
    args = type(args)(**{**vars(args), "ids": ids, "ids_are_pids": by_pid,
                         "pid": one if by_pid else None, "tid": None if by_pid else one})
    with _args.Filters(args) as f:
        _stackcount.sized_maps(f, args)
        return _trace(args, out, f, consts)


def _trace(args, out, f, consts):
    from ...links import perf_event
    freq = args.frequency or (0 if args.period else 49)
    sizes = {"ids": 1} if len(args.ids) < 2 else None
    with _run.load("profile", f, consts, attach=False, sizes=sizes) as obj:
        if len(args.ids) > 1:
            for i in args.ids:
                obj.maps["ids"].update(i, b"\x01")
        obj.links.append(perf_event.attach(
            obj.programs["do_sample"], sample_freq=freq, sample_period=args.period or 0,
            cpu=args.cpu if args.cpu >= 0 else None))
        how = f"{freq} Hertz" if freq else f"every {args.period} events"
        # bcc's banner names the threads, the stacks and the CPU the options chose
        names = ",".join(map(str, args.ids))
        who = ("PID " if args.ids_are_pids else "TID ") + names if names else "all threads"
        cpu = f" on CPU#{args.cpu}" if args.cpu >= 0 else ""
        _stackcount.collect("profile", obj, args, out,
                            f"Sampling at {how} of {who} by {_stackcount.stack_words(args)} "
                            f"stack{cpu}{_stackcount.span(args)}")
    return 0


def main(argv=None) -> int:
    return _run.main("profile", parser, run, argv)
