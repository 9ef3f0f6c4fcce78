"""syscount: summarize syscall counts and latencies, per syscall or per process (bcc's)."""

from __future__ import annotations

import errno as _errno
import struct
import time

from .. import _args, _common, _run, _syscalls

_VAL = struct.Struct("<QQ16s")

EXAMPLES = """examples:
    pybpf syscount                 # count syscalls, top 10 at Ctrl-C
    pybpf syscount -P              # count per process
    pybpf syscount -L              # with total latency per syscall
    pybpf syscount -p 181          # only process 181
    pybpf syscount -i 1 -d 10      # print every second for 10 seconds
    pybpf syscount -x              # only failed syscalls
    pybpf syscount -e ENOENT       # only syscalls failing with ENOENT
    pybpf syscount --syscall read  # only read()
    pybpf syscount -l              # list the syscall names
    pybpf syscount --ppid 181      # only children of process 181
    pybpf syscount --json -i 1     # one JSON object per interval
    pybpf syscount --exec ls -l    # run this command and count its syscalls, until it exits
"""


def errno_value(text: str) -> int:
    if text.isdigit():
        return int(text)
    v = getattr(_errno, text.upper(), None)
    if not isinstance(v, int):
        raise _common._arg_error(f"unknown errno {text!r}")
    return v


def parser():
    p = _args.parser("syscount", "Summarize syscall counts and latencies", EXAMPLES)
    _args.add_pid(p, tid=True, tid_flags=("-t", "--tid"))
    _args.add_cgroup(p)         # bcc's -c is --ppid; -c is the cgroup in every pybpf tool
    p.add_argument("--ppid", type=_common.pid_arg,
                   help="trace only the children of this parent PID")
    _args.add_maps(p)
    _args.add_summary(p, timestamp=False)          # -T is --top
    p.add_argument("-T", "--top", type=_args.positive_int, default=10,
                   help="print only the top syscalls by count or latency")
    p.add_argument("-x", "--failures", action="store_true", help="trace only failed syscalls")
    p.add_argument("-e", "--errno", type=errno_value,
                   help="trace only syscalls that return this error (numeric or EPERM, etc.)")
    p.add_argument("-L", "--latency", action="store_true",
                   help="collect syscall latency")
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="display latency in milliseconds (default: microseconds)")
    p.add_argument("-P", "--process", action="store_true",
                   help="count by process and not by syscall")
    p.add_argument("-l", "--list", action="store_true",
                   help="print list of recognized syscalls and exit")
    p.add_argument("--syscall", help="trace this syscall only (name or number)")
    _args.add_json(p, "interval")
    _args.add_exec(p)
    return p


def run(args, out):
    if args.list:
        for name in sorted(_syscalls.table().values()):
            out.stream.write(name + "\n")
        return 0
    consts = {"measure_latency": args.latency, "count_by_process": args.process,
              "filter_failed": args.failures}
    if args.errno:
        consts["filter_errno"] = args.errno
    if args.syscall is not None:
        nr = _syscalls.number(args.syscall)
        if nr is None:
            raise SystemExit(f"error: unknown syscall {args.syscall!r}")
        consts["filter_syscall"] = nr
    if args.ppid:
        consts["targ_ppid"] = args.ppid
    # -i and -d map onto the shared interval/count loop
    _args.interval_count(args)
    agg = "PID    COMM" if args.process else "SYSCALL"
    unit = "TIME (ms)" if args.milliseconds else "TIME (us)"
    div = 1e6 if args.milliseconds else 1e3

    cmd = _args.exec_command(args)      # --exec: its pid is the -p filter
    try:
        return _trace(args, out, consts, cmd, agg, unit, div)
    finally:
        if cmd:
            cmd.close()


def _trace(args, out, consts, cmd, agg, unit, div):
    # without -L the enter program records nothing: not loaded nor attached (one
    # verification and one hook on every syscall fewer), and its table has one entry
    lean = {} if args.latency else {"programs": ["sys_exit"], "sizes": {"start": 1}}
    with _args.Filters(args) as f, _run.load("syscount", f, consts, **lean) as obj:
        counts = obj.maps["counts"]

        def report():
            rows = []
            for k, v in counts.drain_raw():     # read and cleared at once
                n, total, comm = _VAL.unpack(v)
                rows.append((int.from_bytes(k, "little"), n, total,
                             _common.cstr(comm)))
            rows.sort(key=lambda r: -(r[2] if args.latency else r[1]))
            rows = rows[:args.top]
            if out.json:
                recs = []
                for k, n, total, comm in rows:
                    r = {"pid": k, "comm": comm} if args.process else {
                        "syscall": _syscalls.name(k), "nr": k}
                    r["count"] = n
                    if args.latency:
                        r["total_ns"] = total
                    recs.append(r)
                out.row("", {"time": time.strftime("%H:%M:%S"), "rows": recs})
                return
            w = out.stream.write
            w("[%s]\n" % time.strftime("%H:%M:%S"))
            if args.latency:
                w("%-22s %8s %16s\n" % (agg, "COUNT", unit))
            else:
                w("%-22s %8s\n" % (agg, "COUNT"))
            for k, n, total, comm in rows:
                col = "%-6d %-15s" % (k, comm) if args.process else _syscalls.name(k)
                if args.latency:
                    w(("%-22s %8d " + ("%16.6f" if args.milliseconds else "%16.3f") + "\n")
                      % (col, n, total / div))
                else:
                    w("%-22s %8d\n" % (col, n))
            w("\n")

        banner = "Tracing %ssyscalls, printing top %d... Ctrl+C to quit." % (
            "failed " if args.failures else "", args.top)
        if cmd:
            cmd.start()
        _run.intervals("syscount", obj, args, out, report, banner=banner)
    if cmd:
        cmd.check()
    return 0


def main(argv=None) -> int:
    return _run.main("syscount", parser, run, argv)
