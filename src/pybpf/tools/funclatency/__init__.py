"""funclatency: time functions (entry to return) as histograms, as bcc's funclatency."""

from __future__ import annotations

import time

from .. import _args, _common, _hist, _probes, _run

MAX_DEPTH = 16      # funclatency.h: the entry times kept per thread

EXAMPLES = """examples:
    pybpf funclatency c:read              # time libc read() as a histogram
    pybpf funclatency -u c:read           # in microseconds
    pybpf funclatency -m c:getaddrinfo    # in milliseconds
    pybpf funclatency -i 2 c:read         # summary every 2 seconds
    pybpf funclatency -p 181 c:read       # time process 181 only
    pybpf funclatency -F 'c:str*'         # a histogram per function
    pybpf funclatency -r 'c:^mem(cpy|set)$'   # a regular expression
    pybpf funclatency --json -d 5 c:read  # one JSON object per interval
    pybpf funclatency -l 1 c:qsort        # the outermost call of a recursion only
    pybpf funclatency -v c:read           # print the BPF program too
    pybpf funclatency -u vfs_read         # a kernel function (needs kprobes)
"""


def parser():
    p = _args.parser("funclatency", "Time functions and print latency as a histogram",
                     EXAMPLES)
    _args.add_pid(p)
    _args.add_summary(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("-u", "--microseconds", action="store_true", help="microsecond histogram")
    g.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-F", "--function", action="store_true",
                   help="show a separate histogram per function")
    _args.add_regexp(p)
    p.add_argument("-l", "--level", type=_common.int_range(1, MAX_DEPTH, "a nesting level"),
                   help="set the level of nested or recursive functions")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the BPF program (for debugging purposes)")
    p.add_argument("pattern", help="search expression for functions (lib:func)")
    _args.add_json(p, "interval")
    return p


def run(args, out):
    from ... import errors
    family, probes = _probes.resolve(args.pattern, args.regexp)
    if family in ("tracepoint", "usdt"):
        raise errors.PybpfError(f"{args.pattern!r}: funclatency times functions, entry to "
                                "return (lib:func); a tracepoint or USDT probe has no return")
    if family == "kprobe":
        from ...links import kprobe     # with the kernel's symbols: for kernel functions only
        if not kprobe.available():
            raise errors.NotSupportedError(f"timing kernel functions ({args.pattern!r})",
                                           "they need kretprobes (CONFIG_KPROBES); user "
                                           "functions (lib:func) can be timed")
    family, probes = _probes.resolve_present(args.pattern, args.regexp, 256, "functions")
    unit, div = ("msecs", 1000000) if args.milliseconds else ("usecs", 1000) \
        if args.microseconds else ("nsecs", 1)
    _args.interval_count(args)
    consts = {"per_function": args.function, "unit_div": div}
    if args.level:
        consts["max_level"] = args.level
    multi = _probes.use_multi(family, probes)
    progs = ["kfunc_entry", "kfunc_return"] if family == "kprobe" else \
        ["func_entry_multi", "func_return_multi"] if multi else ["func_entry", "func_return"]
    if args.verbose and not args.ebpf:
        import sys
        from .._ebpf import render_tool
        # bcc prints it on stdout; with --json that carries JSON only
        print(render_tool("funclatency", consts, progs),
              file=sys.stderr if out.json else sys.stdout, flush=True)
    with _args.Filters(args) as f, _run.load("funclatency", f, consts, programs=progs,
                                             attach=False) as obj:
        pid = args.pid or -1
        attached, failed = 0, []
        if multi:
            # entries first, then returns at the places the entries took
            entry_prog, return_prog = obj.programs[progs[0]], obj.programs[progs[1]]
            links, refused = _probes.attach_multi(family, entry_prog, probes, pid)
            obj.links.extend(links)
            failed = [(probes[i][0], e) for i, e in refused.items()]
            took = [i for i in range(len(probes)) if i not in refused]
            if took:
                links, refused = _probes.attach_multi(family, return_prog, probes, pid,
                                                      retprobe=True, only=took)
                obj.links.extend(links)
                if refused:
                    raise next(iter(refused.values()))
            attached = len(took)
        for i, (name, how) in enumerate(probes if not multi else ()):
            # a pattern matching several functions times those that can be probed, as
            # funccount counts them: x86 uprobes refuse some first instructions (libc's
            # AVX str*/mem* variants: ENOTSUPP, 524)
            try:
                entry = _probes.attach(family, obj.programs[progs[0]], how, i, pid)
            except (errors.AttachError, errors.KernelError, errors.NotFoundError) as e:
                failed.append((name, e))
                continue
            obj.links.append(entry)
            obj.links.append(_probes.attach(family, obj.programs[progs[1]], how, i, pid,
                                            retprobe=True))
            attached += 1
        if failed:
            if not attached:        # a single function's error, or the first of all
                raise failed[0][1]
            import sys
            print(f"funclatency: {len(failed)} of {len(probes)} functions could not be "
                  f"probed ({failed[0][0]}: {failed[0][1]})", file=sys.stderr, flush=True)

        def report():
            hists = {int.from_bytes(k, "little"): v
                     for k, v in _hist.read(obj.maps["hists"]).items()}
            if args.function:
                hists = {probes[k][0]: v for k, v in hists.items() if k < len(probes)}
            count, total = _hist.read_array(obj.maps["totals"])
            when = time.strftime("%H:%M:%S") if args.timestamp or out.json else None
            avg = total / count / div if count else 0
            if out.json:
                _hist.print_sections(out, hists, unit, "function" if args.function else None,
                                     time_line=when,
                                     extra={"count": count, "total": total // div,
                                            "avg": round(avg, 3)})
                return
            out.stream.write("\n")
            _hist.print_sections(out, hists, unit, "Function" if args.function else None,
                                 time_line=when)
            if count:
                out.stream.write("\navg = %d %s, total: %d %s, count: %d\n\n" % (
                    avg, unit, total // div, unit, count))

        _run.intervals("funclatency", obj, args, out, report,
                       banner='Tracing %d functions for "%s"... Hit Ctrl-C to end.' % (
                           attached, args.pattern))
    return 0


def main(argv=None) -> int:
    return _run.main("funclatency", parser, run, argv)
