"""sigsnoop: trace signals generated system-wide (signal:signal_generate), as libbpf-tools'."""

from __future__ import annotations

from .. import _args, _common, _run, _signals
from .._signals import sig_name

EXAMPLES = """examples:
    pybpf sigsnoop             # trace signals system-wide
    pybpf sigsnoop -x          # trace failed signals only
    pybpf sigsnoop -p 1216     # only trace PID 1216
    pybpf sigsnoop -t 1216     # only trace signals sent to PID 1216
    pybpf sigsnoop -s 9        # only trace signal 9
    pybpf sigsnoop -n          # show signal names
    pybpf sigsnoop --json      # one JSON object per signal
"""


def parser():
    p = _args.parser("sigsnoop", "Trace standard and real-time signals", EXAMPLES)
    p.add_argument("-x", "--failed", action="store_true", help="trace failed signals only")
    _args.add_pid(p)
    p.add_argument("-t", "--target", type=_common.pid_arg, help="target PID to trace")
    p.add_argument("-s", "--signal", type=_signals.signal_number, help="signal to trace")
    p.add_argument("-n", "--name", action="store_true", help="output signal name instead of number")
    _args.add_cgroup(p, flags=("--cgroup",))
    _args.add_json(p, "signal")
    return p


def run(args, out):
    clock = _common.Clock()
    consts = {"failed_only": args.failed}
    if args.signal:
        consts["targ_sig"] = args.signal
    if args.target:
        consts["targ_tpid"] = args.target

    def header():
        out.header("%-8s %-7s %-16s %-9s %-7s %-6s" % ("TIME", "PID", "COMM", "SIG", "TPID",
                                                      "RESULT"))

    def handle(data):
        ts, pid, tpid, sig, ret, comm = _signals.decode(data)
        if out.json:
            out.row("", _signals.json_row(clock, ts, pid, comm, sig, tpid, ret, signame=True))
            return
        out.row("%-8s %-7d %-16s %-9s %-7d %-6d" % (
            clock.hms(ts), pid, comm, sig_name(sig) if args.name else sig, tpid, ret), {})

    with _args.Filters(args) as f, _run.load("sigsnoop", f, consts) as obj:
        _run.stream("sigsnoop", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("sigsnoop", parser, run, argv)
