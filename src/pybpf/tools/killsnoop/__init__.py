"""killsnoop: trace signals sent by kill(), tkill() and tgkill(), as bcc's killsnoop."""

from __future__ import annotations

from .. import _args, _common, _run, _signals

# The sections name kill(); the same programs serve tkill() (its enter reads the same
# arguments) and tkill()/tgkill() (every exit ends alike)
ALSO = {"tp_enter_kill": (("syscalls", "sys_enter_tkill"),),
        "tp_exit": (("syscalls", "sys_exit_tkill"), ("syscalls", "sys_exit_tgkill"))}

EXAMPLES = """examples:
    pybpf killsnoop             # trace all kill() signals
    pybpf killsnoop -x          # only show failed kills
    pybpf killsnoop -p 181      # only trace PID 181
    pybpf killsnoop -T 189      # only trace target PID 189
    pybpf killsnoop -s 9        # only trace signal 9
    pybpf killsnoop -s SIGTERM  # signals by name too
    pybpf killsnoop --json      # one JSON object per kill
"""


def parser():
    p = _args.parser("killsnoop", "Trace signals issued by the kill() syscall", EXAMPLES)
    p.add_argument("-x", "--failed", action="store_true", help="only show failed kill syscalls")
    _args.add_pid(p)
    p.add_argument("-T", "--tpid", metavar="TPID", type=_common.pid_arg,
                   help="trace this target PID only which is the receiver of signal")
    p.add_argument("-s", "--signal", type=_signals.signal_number, help="trace this signal only")
    _args.add_cgroup(p)
    _args.add_maps(p)
    _args.add_json(p, "signal sent")
    return p


def run(args, out):
    clock = _common.Clock()

    def header():
        out.header("%-9s %-7s %-16s %-4s %-6s %s" % ("TIME", "PID", "COMM", "SIG", "TPID",
                                                    "RESULT"))

    def handle(data):
        ts, pid, tpid, sig, ret, comm = _signals.decode(data)
        if out.json:
            out.row("", _signals.json_row(clock, ts, pid, comm, sig, tpid, ret))
            return
        out.row("%-9s %-7d %-16s %-4d %-6d %d" % (clock.hms(ts), pid, comm, sig, tpid, ret), {})

    consts = {"failed_only": args.failed}
    if args.signal:
        consts["targ_sig"] = args.signal
    if args.tpid:
        consts["targ_tpid"] = args.tpid
    with _args.Filters(args) as f, _run.load("killsnoop", f, consts, attach=False) as obj:
        _run.attach_some(obj, also=ALSO)
        _run.stream("killsnoop", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("killsnoop", parser, run, argv)
