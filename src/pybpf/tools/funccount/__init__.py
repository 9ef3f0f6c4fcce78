"""funccount: count function calls, USDT probes or tracepoints matching a pattern (bcc's)."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
import time

from .. import _args, _hist, _run

MAX_PROBES = 1024       # funccount.h

EXAMPLES = """examples:
    pybpf funccount 'c:malloc'            # count malloc() calls in the C library
    pybpf funccount 'c:str*'              # count libc functions starting with str
    pybpf funccount '/bin/bash:readline'  # a function of a binary
    pybpf funccount 't:sched:sched_*'     # count scheduler tracepoints
    pybpf funccount 'u:/usr/bin/python3:function__entry'   # a USDT probe
    pybpf funccount -r 'c:^mem(cpy|set)$' # a regular expression
    pybpf funccount -p 181 -i 1 'c:malloc'   # PID 181, every second
    pybpf funccount 'vfs_*'               # kernel functions (needs kprobes)
    pybpf funccount --json -d 5 'c:malloc'   # one JSON object per interval
"""


def parser():
    p = _args.parser("funccount", "Count functions, tracepoints, and USDT probes", EXAMPLES)
    _args.add_pid(p)
    p.add_argument("-i", "--interval", type=_args.positive_int,
                   help="summary interval, seconds")
    p.add_argument("-d", "--duration", type=_args.positive_int,
                   help="total duration of trace, seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-r", "--regexp", action="store_true",
                   help="use regular expressions; the default is \"*\" wildcards only")
    p.add_argument("-D", "--debug", action="store_true", help="print the probes attached")
    p.add_argument("-c", "--cpu", type=int, help="accepted for bcc compatibility")
    p.add_argument("pattern", help="search expression for events")
    _args.add_json(p, "interval")
    return p


def _matcher(pattern: str, regexp: bool):
    if regexp:
        rx = re.compile(pattern)
        return lambda name: rx.search(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def resolve(spec: str, regexp: bool) -> tuple[str, list[tuple[str, tuple]]]:
    """The family ("uprobe", "tracepoint", "kprobe") and the probes (display name,
    attach arguments) a bcc pattern names."""
    parts = spec.split(":")
    if parts[0] == "t" and len(parts) == 3:
        from ... import tracefs
        cat_ok, name_ok = _matcher(parts[1], regexp), _matcher(parts[2], regexp)
        root = os.path.join(tracefs.root(), "events")
        found = []
        for cat in sorted(os.listdir(root)):
            if not cat_ok(cat) or not os.path.isdir(os.path.join(root, cat)):
                continue
            for name in sorted(os.listdir(os.path.join(root, cat))):
                if name_ok(name) and os.path.isdir(os.path.join(root, cat, name)):
                    found.append((f"{cat}:{name}", (cat, name)))
        return "tracepoint", found
    if parts[0] == "u" and len(parts) in (3, 4):
        from ...links import usdt
        path = parts[1]
        provider, name = (parts[2], parts[3]) if len(parts) == 4 else ("*", parts[2])
        pok, nok = _matcher(provider, regexp), _matcher(name, regexp)
        found = []
        for pr in usdt.probes(_resolve_lib(path)):
            if pok(pr.provider) and nok(pr.name):
                found.append((f"{pr.provider}:{pr.name}",
                              (pr.path, pr.offset, pr.semaphore_offset)))
        return "usdt", found
    if len(parts) == 2 and parts[0] not in ("p", "t", "u"):
        from ...links import elfcache, symbols
        path = _resolve_lib(parts[0])
        ok = _matcher(parts[1], regexp)
        # by file offset: aliases of one function (memcpy, __memcpy...) share one probe
        seen: dict[int, str] = {}
        for name, off in sorted(elfcache.functions(path).items()):
            if not ok(name):
                continue
            if off < 0:
                # an IFUNC's symbol is its resolver (run once per process): probe the
                # implementation this machine picks, or leave it out
                off = symbols.ifunc_target_offset(path, name)
                if off is None:
                    continue
            if off not in seen:
                seen[off] = name
        return "uprobe", [(name, (path, off)) for off, name in sorted(seen.items(),
                                                                      key=lambda kv: kv[1])]
    func = parts[1] if parts[0] == "p" and len(parts) == 2 else spec
    return "kprobe", [(func, (func,))]


def _resolve_lib(path: str) -> str:
    from ...links import symbols
    return symbols.resolve_path(path)


def run(args, out):
    from ... import errors
    family, probes = resolve(args.pattern, args.regexp)
    if family == "kprobe":
        from ...links import kprobe
        if not kprobe.available():
            raise errors.NotSupportedError(
                f"kernel function pattern {args.pattern!r}",
                "this kernel has no kprobes (CONFIG_KPROBES); count tracepoints (t:cat:name), "
                "user functions (lib:func) or USDT probes (u:path:probe)")
        probes = [(name, (name,)) for name in kprobe_matches(args.pattern, args.regexp)]
    if not probes:
        raise errors.PybpfError(f"no probes match {args.pattern!r}")
    if len(probes) > MAX_PROBES:
        raise errors.PybpfError(f"{len(probes)} probes match {args.pattern!r}; at most "
                                f"{MAX_PROBES}: narrow the pattern")
    prog_name = {"uprobe": "count_uprobe", "usdt": "count_uprobe",
                 "tracepoint": "count_tracepoint", "kprobe": "count_kprobe"}[family]
    if args.duration and not args.interval:
        args.interval = args.duration
    args.count = max(1, args.duration // args.interval) if args.duration else 99999999
    if not args.interval:
        args.interval = 99999999
    with _args.Filters(args) as f, _run.load("funccount", f, programs=[prog_name],
                                             attach=False) as obj:
        prog = obj.programs[prog_name]
        attached = 0
        for i, (name, how) in enumerate(probes):
            try:
                obj.links.append(_attach(family, prog, how, i, args.pid or -1))
                attached += 1
            except (errors.NotFoundError, errors.AttachError, errors.KernelError) as e:
                if args.debug or len(probes) == 1:
                    if len(probes) == 1:
                        raise
                    print(f"funccount: skipping {name}: {e}", file=sys.stderr)
        counts = obj.maps["counts"]

        def report():
            vals = _hist.read_array(counts)
            rows = sorted(((v, probes[i][0]) for i, v in enumerate(vals[:len(probes)]) if v))
            when = time.strftime("%H:%M:%S")
            if out.json:
                out.row("", {"time": when, "counts": [{"func": n, "count": v}
                                                      for v, n in rows]})
                return
            w = out.stream.write
            w("\n")
            if args.timestamp:
                w(when + "\n")
            w("%-36s %8s\n" % ("FUNC", "COUNT"))
            for v, n in rows:
                w("%-36s %8d\n" % (n, v))

        _run.intervals("funccount", obj, args, out, report,
                       banner='Tracing %d functions for "%s"... Hit Ctrl-C to end.' % (
                           attached, args.pattern))
    return 0


def _attach(family: str, prog, how: tuple, cookie: int, pid: int):
    if family == "tracepoint":
        from ...links import tracepoint
        return tracepoint.attach(prog, *how, cookie=cookie)
    if family == "kprobe":
        from ...links import kprobe
        return kprobe.attach(prog, how[0], cookie=cookie)
    from ...links import uprobe
    if family == "usdt":
        path, offset, sem = how
        return uprobe.attach(prog, path, offset=offset, pid=pid, cookie=cookie,
                             ref_ctr_offset=sem)
    path, off = how
    return uprobe.attach(prog, path, offset=off, pid=pid, cookie=cookie)


def kprobe_matches(pattern: str, regexp: bool) -> list[str]:
    """Kernel functions matching a pattern, from the traceable functions list."""
    from ...links import symbols
    func = pattern.split(":", 1)[1] if pattern.startswith("p:") else pattern
    if regexp:
        rx = re.compile(func)
        return [f for f in symbols.filter_functions("*") if rx.search(f)]
    return symbols.filter_functions(func)


def main(argv=None) -> int:
    return _run.main("funccount", parser, run, argv)
