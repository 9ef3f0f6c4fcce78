"""exitsnoop: trace process exits with their age and exit status, as bcc's exitsnoop."""

from __future__ import annotations

import struct
import time

from .. import _args, _common, _run

_EV = struct.Struct("<QQIIII16s")

EXAMPLES = """examples:
    pybpf exitsnoop                # trace all process exits
    pybpf exitsnoop -x             # trace only failed exits (non-zero code or a signal)
    pybpf exitsnoop -t             # include timestamps (local time)
    pybpf exitsnoop --utc          # include timestamps in UTC
    pybpf exitsnoop -p 181         # only trace PID 181
    pybpf exitsnoop --label=exit   # label each line with "exit"
    pybpf exitsnoop --per-thread   # trace per-thread exits too
    pybpf exitsnoop --json         # one JSON object per exit
"""


def parser():
    p = _args.parser("exitsnoop", "Trace all process termination (exit, fatal signal)",
                     EXAMPLES)
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include timestamp (local time default)")
    p.add_argument("--utc", action="store_true", help="include timestamp in UTC (-t implied)")
    _args.add_pid(p)
    _args.add_cgroup(p, flags=("-c", "--cgroup"))
    _args.add_maps(p)
    p.add_argument("--label", help="label each line")
    p.add_argument("-x", "--failed", action="store_true", help="trace only fails, exclude exit(0)")
    p.add_argument("--per-thread", action="store_true", help="trace per thread termination")
    _args.add_json(p, "exit")
    return p


def describe(code: int) -> tuple[int, int, bool, str]:
    """(exit status, signal, core dumped, bcc's EXIT_CODE text) of a task's exit_code."""
    sig, core, status = code & 0x7F, bool(code & 0x80), (code >> 8) & 0xFF
    if sig:
        import signal          # only for a killed task: signal.py builds enums
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "?"
        text = f"signal {sig} ({name})" + (", core dumped" if core else "")
    else:
        text = "0" if status == 0 else f"code {status}"
    return status, sig, core, text


def run(args, out):
    clock = _common.Clock()
    if args.utc:
        args.timestamp = True
    stamp = time.gmtime if args.utc else time.localtime

    # bcc: the zone's name in the title (TIME-UTC, TIME-CET), milliseconds in the column;
    # --label= (empty) still labels, with "exit"
    labelled = args.label is not None
    label = args.label or "exit"

    def header():
        zone = "UTC" if args.utc else time.strftime("%Z")
        out.header(("%-13s" % ("TIME-" + zone) if args.timestamp else "")
                   + ("%-6s" % "LABEL" if labelled else "")
                   + "%-16s %-7s %-7s %-7s %-7s %-10s" % ("PCOMM", "PID", "PPID", "TID",
                                                          "AGE(s)", "EXIT_CODE"))

    def handle(data):
        start, end, pid, tid, ppid, code, comm = _EV.unpack_from(data)
        comm = _common.cstr(comm)
        age = (end - start) / 1e9 if start else 0.0
        status, sig, core, text = describe(code)
        ns = end + clock.offset
        when = time.strftime("%H:%M:%S", stamp(ns / 1e9))
        if out.json:
            out.row("", {"time": when, "label": args.label, "comm": comm, "pid": pid,
                         "ppid": ppid, "tid": tid, "age": round(age, 6), "exit_code": status,
                         "signal": sig, "core_dumped": core})
            return
        out.row(("%-13s" % ("%s.%03d" % (when, ns // 1000000 % 1000)) if args.timestamp
                 else "")
                + ("%-6s" % label if labelled else "")
                + "%-16s %-7d %-7d %-7d %-7.2f %s" % (comm, pid, ppid, tid, age, text), {})

    consts = {"failed_only": args.failed, "per_thread": args.per_thread}
    with _args.Filters(args) as f, _run.load("exitsnoop", f, consts) as obj:
        _run.stream("exitsnoop", obj, handle, out, header)
    return 0


def main(argv=None) -> int:
    return _run.main("exitsnoop", parser, run, argv)
