"""trace: print a message when functions, tracepoints or USDT probes fire (bcc's trace).

Each specifier becomes one BPF program, generated as C and compiled through the compile
cache (tools/_probegen.py says why); its values reach user space through one ring buffer
and are formatted here with the specifier's printf format, as bcc's trace does.
"""

from __future__ import annotations

import os
import struct
import sys
import time

from .. import _args, _common, _probegen, _run
from .._probespec import SpecError, parse_trace, python_format
from . import stacks as tstacks

_HEAD = struct.Struct("<QIIII16s")        # struct trace_head
_SIGNED = {"d": 4, "hd": 2, "ld": 8, "lld": 8}
_UNSIGNED = {"u": 4, "hu": 2, "lu": 8, "llu": 8, "x": 4, "lx": 8, "llx": 8, "c": 1,
             "K": 8, "U": 8}

EXAMPLES = """examples:
    pybpf trace 'c:malloc "size = %d", arg1'        # malloc() calls and their size
    pybpf trace 'r:c:malloc (retval) "got %x", retval'   # non-NULL results of malloc
    pybpf trace 'p:c:write (arg1 == 1) "writing %d bytes to STDOUT", arg3'
    pybpf trace 't:syscalls:sys_enter_openat "%s", args->filename'   # files opened
    pybpf trace 'u:/usr/bin/python3.11:function__entry "%s", arg2'   # a USDT probe
    pybpf trace -p 181 -M 10 'c:open "%s", arg1'    # process 181, ten events
    pybpf trace 'do_sys_openat2 "%s", arg2@user'    # kernel functions (needs kprobes)
    pybpf trace --json 't:sched:sched_process_exit'  # one JSON object per event
"""


def parser():
    p = _args.parser("trace", "Attach to functions and print trace messages", EXAMPLES)
    p.add_argument("-b", "--buffer-pages", type=_args.positive_int,
                   help="pages per CPU for the events' buffer (one ring buffer of this "
                        "many pages times the CPUs, a power of two; default 1 MiB)")
    p.add_argument("-p", "--pid", type=_common.pid_arg, help="id of the process to trace")
    p.add_argument("-L", "--tid", type=_common.pid_arg, help="id of the thread to trace")
    p.add_argument("--uid", type=_common.parse_uid, help="id of the user to trace")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the generated BPF C (on stderr) before running")
    p.add_argument("-Z", "--string-size", type=_args.positive_int, default=80,
                   help="maximum size to read from strings")
    p.add_argument("-S", "--include-self", action="store_true",
                   help="do not filter trace's own pid from the trace")
    p.add_argument("-M", "--max-events", type=_args.positive_int,
                   help="number of events to print before quitting")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="print timestamp column (offset from trace start)")
    p.add_argument("-u", "--unix-timestamp", action="store_true",
                   help="print UNIX timestamp instead of offset from trace start, requires -t")
    p.add_argument("-T", "--time", action="store_true", help="print time column")
    p.add_argument("-C", "--print_cpu", action="store_true", help="print CPU id")
    p.add_argument("-c", "--cgroup-path", dest="cgroup", metavar="CGROUP_PATH",
                   help="trace only tasks in this cgroup (v2 path)")
    p.add_argument("-n", "--name", help="only print process names containing this name")
    p.add_argument("-f", "--msg-filter", help="only print the msg of event containing this "
                                              "string")
    p.add_argument("-B", "--bin_cmp", action="store_true",
                   help="allow to use STRCMP with binary values")
    p.add_argument("-s", "--sym_file_list", metavar="SYM_FILE_LIST",
                   help="comma separated list of symbol files to use for symbol "
                        "resolution (user stacks taken as build-id frames)")
    p.add_argument("-K", "--kernel-stack", action="store_true",
                   help="output kernel stack trace")
    p.add_argument("-U", "--user-stack", action="store_true", help="output user stack trace")
    p.add_argument("-a", "--address", action="store_true",
                   help="print virtual address in stacks")
    p.add_argument("-A", "--aggregate", action="store_true",
                   help="aggregate amount of each trace (needs -M)")
    _args.add_include(p)
    _args.add_maps(p)
    p.add_argument("probes", nargs="+", metavar="probe", help="probe specifier (see examples)")
    _args.add_json(p)
    return p


def program(i: int, p, string_size: int, stacks: bool = False,
            build_id: bool = False) -> str:
    """The C of one specifier: its event struct and program (with ``stacks``, the
    event's stack ids after its values; ``build_id``: user stacks as build-id frames)."""
    ctx, decls = _probegen.preamble(p, [p.filter or ""] + p.values)
    fields = "".join(f"\tchar v{j}[{string_size}];\n" if c == "s" else f"\t__u64 v{j};\n"
                     for j, c in enumerate(p.convs))
    take = ""
    if stacks:
        fields += "\tstruct stack_key st;\n"
        take = tstacks.TAKE_BUILD_ID if build_id else tstacks.TAKE
    fill = "".join(_probegen.value_c(p, v, _probegen.conv_type(c), f"e->v{j}")
                   for j, (v, c) in enumerate(zip(p.values, p.convs)))
    pred = f"\tif (!({_probegen.rewrite(p, p.filter)}))\n\t\treturn 0;\n" if p.filter else ""
    return "".join(p.helpers) + f"""
struct probe{i}_event {{
\tstruct trace_head h;
{fields}}};

SEC("{_probegen.section(p)}")
int probe{i}({ctx})
{{
{decls}\tstruct probe{i}_event *e;

\tif (!probe_wanted())
\t\treturn 0;
{pred}\te = trace_event(sizeof(*e), {i});
\tif (!e)
\t\treturn 0;
{fill}{take}\tbpf_ringbuf_submit(e, 0);
\treturn 0;
}}
"""


_STACK_IDS = struct.Struct("<IIii")     # struct stack_key's head: pid, tid, user, kernel


def values_size(p, string_size: int) -> int:
    return sum(string_size if c == "s" else 8 for c in p.convs)


def decoder(p, string_size: int):
    """bytes after the head -> the values as the format wants them."""
    def decode(data, off: int) -> list:
        out = []
        for c in p.convs:
            if c == "s":
                raw = bytes(data[off:off + string_size])
                out.append(_common.cstr(raw))
                off += string_size
                continue
            v = int.from_bytes(data[off:off + 8], "little")
            off += 8
            if c in _SIGNED:
                bits = 8 * _SIGNED[c]
                v &= (1 << bits) - 1
                if v >> (bits - 1):
                    v -= 1 << bits
            else:
                v &= (1 << (8 * _UNSIGNED[c])) - 1
            if c == "c":
                v = chr(v)
            elif c in ("K", "U"):
                v = f"0x{v:x}"
            out.append(v)
        return out
    return decode


def run(args, out):
    if args.pid and args.tid:
        raise SystemExit("error: only one of -p and -L may be specified")
    if args.aggregate and not args.max_events:
        raise SystemExit("error: -M/--max-events must be given with -A/--aggregate")
    try:
        probes = [parse_trace(s) for s in args.probes]
    except SpecError as e:
        raise SystemExit(f"error: {e}") from None
    for p in probes:
        p.bin_cmp = args.bin_cmp
    size = (args.string_size + 7) & ~7
    stacks = args.kernel_stack or args.user_stack
    sym_files = _sym_files(args.sym_file_list)
    build_id = sym_files is not None and args.user_stack
    frag = (tstacks.BUILD_ID_STACKS if build_id else tstacks.STACKS) if stacks else ""
    fixed = _probegen.include_lines(args.include) + _probegen.tracepoint_structs(probes)
    parts = [("", fixed + frag)] + [
        (p.raw, program(i, p, size, stacks, build_id)) for i, p in enumerate(probes)]
    head = _head(args)
    decoders = [decoder(p, size) for p in probes]
    formats = [python_format(p.fmt) for p in probes]
    consts = {"self_tgid": 0 if args.include_self else os.getpid()}
    if stacks:
        consts.update(user_only=not args.kernel_stack, kernel_only=not args.user_stack)
    symbolizer = []
    if args.uid is not None:
        consts["targ_uid"] = args.uid
    start_ns, start_real = time.monotonic_ns(), time.time()
    seen = [0]
    aggregate: dict[str, int] = {}
    name = args.name or ""

    def header():
        if out.json:
            # stdout carries JSON only: the start goes to stderr
            print(f"Tracing {len(probes)} probes... Hit Ctrl-C to end.", file=sys.stderr,
                  flush=True)
            return
        cols = ""
        if args.timestamp or args.time:
            cols += ("%-17s " if args.unix_timestamp else "%-8s ") % "TIME"
        if args.print_cpu:
            cols += "%-3s " % "CPU"
        trivial = all(not p.fmt for p in probes)
        out.header(cols + "%-7s %-7s %-15s %-16s %s" % ("PID", "TID", "COMM", "FUNC",
                                                         "" if trivial else "-"))

    def handle(data):
        if args.max_events and seen[0] >= args.max_events:
            return
        ts, tgid, tid, cpu, idx, comm = _HEAD.unpack_from(data)
        comm = _common.cstr(comm)
        if idx >= len(probes) or name not in comm:
            return
        p = probes[idx]
        values = decoders[idx](data, _HEAD.size)
        try:
            msg = formats[idx] % tuple(values)
        except (TypeError, ValueError):
            msg = " ".join(map(str, values))
        if args.msg_filter and args.msg_filter not in msg:
            return
        seen[0] += 1
        kst = ust = None
        if stacks:
            _, _, uid_, kid = _STACK_IDS.unpack_from(data, _HEAD.size + values_size(p, size))
            if not symbolizer:
                symbolizer.append(tstacks.Frames(obj, args.address,
                                                 sym_files if build_id else None))
            st = symbolizer[0]
            kst = st.kernel(kid) if args.kernel_stack else None
            ust = st.user(uid_, tgid) if args.user_stack else None
        if out.json:
            rec = {"ts": round((ts - start_ns) / 1e9, 6), "time": time.strftime("%H:%M:%S"),
                   "cpu": cpu, "pid": tgid, "tid": tid, "comm": comm, "func": p.display,
                   "probe": idx, "msg": msg, "values": values}
            if kst is not None:
                rec["kernel_stack"] = kst
            if ust is not None:
                rec["user_stack"] = ust
            out.row("", rec)
        else:
            line = ""
            if args.timestamp or args.time:
                if args.time and not args.timestamp:
                    t = time.strftime("%H:%M:%S")
                else:
                    off = (ts - start_ns) / 1e9
                    t = "%.6f" % (off + start_real if args.unix_timestamp else off)
                line += ("%-17s " % t[:17]) if args.unix_timestamp else ("%-8s " % t[:8])
            if args.print_cpu:
                line += "%-3s " % cpu
            line += "%-7d %-7d %-15s %-16s %s" % (tgid, tid, comm, p.display, msg)
            for frames in (kst, ust):
                if frames is not None:
                    line += "".join("\n        " + fr for fr in frames)
            if stacks:
                line += "\n"
            if args.aggregate:
                aggregate[line] = aggregate.get(line, 0) + 1
            else:
                out.row(line, {})
        if args.max_events and seen[0] >= args.max_events:
            if args.aggregate:
                for text, n in sorted(aggregate.items(), key=lambda kv: -kv[1]):
                    out.row("%s-->COUNT %d\n" % (text, n), {})
            raise _common.Stop()

    with _args.Filters(args) as f, _probegen.load("trace", parts, f, consts,
                                                  args.verbose, probes, head) as obj:
        for i, p in enumerate(probes):
            _probegen.attach(obj, i, p, args.pid or -1)
        try:
            _run.stream("trace", obj, handle, out, header)
        except _common.Stop:
            out.flush()      # -M reached while the last records were read
        finally:
            for st in symbolizer:
                st.close()
    return 0


def _sym_files(text: str | None) -> list | None:
    """-s's files (their symbols, ``ElfSymbols``), each an ELF file with a GNU
    build-id."""
    if text is None:
        return None
    from ...syms.elfsyms import ElfSymbols
    out = []
    for path in filter(None, (x.strip() for x in text.split(","))):
        elf = ElfSymbols(path)          # ELFError: one line naming the file
        if not elf.build_id:
            raise SystemExit(f"error: {path} has no GNU build-id: frames cannot be "
                             "matched to it")
        out.append(elf)
    if not out:
        raise SystemExit("error: -s needs at least one file")
    return out


def _head(args) -> str:
    """C before trace's fixed half: the events' buffer size (-b)."""
    if not args.buffer_pages:
        return ""
    size = args.buffer_pages * os.sysconf("SC_PAGE_SIZE") * (os.cpu_count() or 1)
    return f"#define EVENTS_BYTES {1 << (size - 1).bit_length()}\n"


def main(argv=None) -> int:
    return _run.main("trace", parser, run, argv)
