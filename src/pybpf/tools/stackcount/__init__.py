"""stackcount: count the stacks leading to functions, tracepoints or USDT probes (bcc's)."""

from __future__ import annotations

import os
import struct
import time

from .. import _args, _common, _probes, _run, _stacks

_KEY = struct.Struct("<IIii16s")

EXAMPLES = """examples:
    pybpf stackcount c:malloc             # count stacks leading to malloc()
    pybpf stackcount -P c:malloc          # ... per process
    pybpf stackcount t:sched:sched_switch # stacks at a tracepoint
    pybpf stackcount -f -P c:malloc       # folded output (flame graphs)
    pybpf stackcount -p 185 c:malloc      # only process 185
    pybpf stackcount -U t:syscalls:sys_enter_read   # user stacks only
    pybpf stackcount -c 1 t:sched:sched_switch  # only events on CPU 1
    pybpf stackcount -sv t:sched:sched_switch   # show offsets and raw addresses
    pybpf stackcount --json -D 5 c:malloc # one JSON object per stack
"""


def parser():
    p = _args.parser("stackcount", "Count events and their stack traces", EXAMPLES)
    _args.add_pid(p)
    p.add_argument("-c", "--cpu", type=_common.int_range(0, (os.cpu_count() or 1) - 1,
                                                         "a CPU number"),
                   help="trace this CPU only")
    _args.add_summary(p, duration_flags=("-D", "--duration"))  # -d is --delimited
    _args.add_regexp(p)
    p.add_argument("-s", "--offset", action="store_true", help="show address offsets")
    p.add_argument("-P", "--perpid", action="store_true", help="display stacks separately for each process")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-K", "--kernel-stacks-only", action="store_true", help="kernel stack only")
    g.add_argument("-U", "--user-stacks-only", action="store_true", help="user stack only")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert delimiter between kernel/user stacks")
    _args.add_lines(p)
    p.add_argument("-v", "--verbose", action="store_true", help="show raw addresses")
    p.add_argument("-f", "--folded", action="store_true", help="output folded format")
    p.add_argument("--debug", action="store_true",
                   help="print BPF program before starting (for debugging purposes)")
    p.add_argument("pattern", help="search expression for events")
    _args.add_json(p, "stack")
    return p


def run(args, out):
    family, probes = _probes.resolve_present(args.pattern, args.regexp)
    multi = _probes.use_multi(family, probes)
    prog_name = _probes.program("count", family, multi)
    _args.interval_count(args)
    # -p counts per process, as -P does (bcc: its folded lines then start with the comm)
    per_process = args.perpid or bool(args.pid)
    consts = {"per_process": per_process, "user_only": args.user_stacks_only,
              "kernel_only": args.kernel_stacks_only}
    if args.cpu is not None:
        consts["targ_cpu"] = args.cpu
    if args.debug:
        print_program(out, consts, prog_name, probes)
    with _args.Filters(args) as f, _run.load("stackcount", f, consts, programs=[prog_name],
                                             attach=False) as obj:
        prog = obj.programs[prog_name]
        if multi:
            links, refused = _probes.attach_multi(family, prog, probes, args.pid or -1)
            obj.links.extend(links)
            if refused:             # as one perf event per probe: the first refusal ends it
                raise next(iter(refused.values()))
        for i, (name, how) in enumerate(probes if not multi else ()):
            obj.links.append(_probes.attach(family, prog, how, i, args.pid or -1))
        counts = obj.maps["counts"]

        def report():
            # -v: bcc's raw address before each frame of the multi-line output
            address = ("%-16x ", "%-16x ") if args.verbose and not args.folded \
                and not out.json else None
            stacks = _stacks.Stacks(obj.maps["stacks"], show_offset=args.offset,
                                     lines=args.lines, address=address)
            rows = []
            for k, v in counts.drain_raw():     # read and cleared at once
                pid, upid, ust, kst, comm = _KEY.unpack(k)
                rows.append((int.from_bytes(v, "little"), pid, upid, ust, kst,
                             _common.cstr(comm)))
            rows.sort()
            w = out.stream.write
            if args.timestamp and not out.json:
                w(time.strftime("%H:%M:%S") + "\n")
            for n, pid, upid, ust, kst, comm in rows:
                kernel = stacks.kernel(kst) if kst >= 0 else []
                user = stacks.user(ust, pid or upid) if ust >= 0 else []
                if out.json:
                    rec = {"count": n, "user_stack": user, "kernel_stack": kernel}
                    if args.verbose:
                        rec["user_addrs"] = stacks.addresses(ust) if ust >= 0 else []
                        rec["kernel_addrs"] = stacks.kernel_addresses(kst) \
                            if kst >= 0 else []
                    if per_process:
                        rec.update(pid=pid, comm=comm)
                    out.row("", rec)
                elif args.folded:
                    line = _stacks.folded(comm if per_process else "", user, kernel,
                                          args.delimited)
                    w(f"{line.lstrip(';')} {n}\n")
                else:
                    for fr in kernel:
                        w(f"  {fr}\n")
                    if args.delimited and kernel and user:
                        w("  --\n")
                    for fr in user:
                        w(f"  {fr}\n")
                    if args.perpid and not args.pid:     # -p: its one process
                        w(f"  {comm} [{pid}]\n")
                    w(f"    {n}\n\n")
            stacks.clear()
            stacks.close()

        _run.intervals("stackcount", obj, args, out, report,
                       banner='Tracing %d functions for "%s"... Hit Ctrl-C to end.' % (
                           len(probes), args.pattern))
    return 0


def print_program(out, consts: dict, prog_name: str, probes) -> None:
    """--debug: the BPF program's C source (the prebuilt object's), the values its
    const volatile knobs get and the probes it attaches to, before tracing starts."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "stackcount.bpf.c")) as f:
        out.stream.write(f.read())
    out.stream.write("\n/* set before load: %s */\n" % ", ".join(
        f"{k} = {int(v)}" for k, v in sorted(consts.items())))
    out.stream.write("/* program %s attached to: %s */\n" % (
        prog_name, ", ".join(name for name, _ in probes)))
    out.flush()


def main(argv=None) -> int:
    return _run.main("stackcount", parser, run, argv)
