"""argdist: count (-C) or histogram (-H) function arguments and return values (bcc's).

What it summarizes: function arguments and return values, tracepoint fields, USDT
arguments, anything C can compute from them.

Each specifier becomes one BPF program, generated as C and compiled through the compile
cache (tools/_probegen.py says why), that counts in the kernel: a hash map per -C
specifier keyed by its values, a log2 histogram per -H specifier; this reads and clears
them every interval.
"""

from __future__ import annotations

import os
import time

from .. import _args, _common, _hist, _probegen, _run
from .._probespec import SpecError, parse_argdist

# integer types argdist's values are commonly given as: (bytes, signed)
_INTS = {"char": (1, True), "short": (2, True), "int": (4, True), "long": (8, True),
         "long long": (8, True), "s8": (1, True), "s16": (2, True), "s32": (4, True),
         "s64": (8, True), "__s8": (1, True), "__s16": (2, True), "__s32": (4, True),
         "__s64": (8, True), "ssize_t": (8, True), "pid_t": (4, True), "u8": (1, False),
         "u16": (2, False), "u32": (4, False), "u64": (8, False), "__u8": (1, False),
         "__u16": (2, False), "__u32": (4, False), "__u64": (8, False),
         "size_t": (8, False), "bool": (1, False), "unsigned char": (1, False),
         "unsigned short": (2, False), "unsigned int": (4, False), "unsigned": (4, False),
         "unsigned long": (8, False), "unsigned long long": (8, False)}

EXAMPLES = """probe specifier:
    {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...]
        [:filter]][#label]
    in return probes: $retval, $entry(param), $latency; everywhere: $PID, $COMM

examples:
    pybpf argdist -H 'p:c:malloc(size_t size):size_t:size'    # malloc sizes, histogram
    pybpf argdist -p 181 -C 'p:c:malloc(size_t size):size_t:size:size==16'
    pybpf argdist -C 'p:c:write(int fd):int:fd' -T 5            # the 5 busiest fds
    pybpf argdist -H 'r:c:read()'                                # read()'s results
    pybpf argdist -C 't:syscalls:sys_enter_openat():char*:args->filename'
    pybpf argdist -H 't:block:block_rq_complete():u32:args->nr_sector'
    pybpf argdist -C 'u:/usr/bin/python3.11:function__entry():char*:arg2'
    pybpf argdist -H 'r:c:nanosleep():u64:$latency'              # latency, in ns
    pybpf argdist --json -n 1 -C 'r:c:getpid():u32:$retval'
"""


def parser():
    p = _args.parser("argdist", "Trace a function and display a summary of its parameter "
                     "values", EXAMPLES)
    p.add_argument("-p", "--pid", type=_common.pid_arg, help="id of the process to trace")
    p.add_argument("-t", "--tid", type=_common.pid_arg, help="id of the thread to trace")
    p.add_argument("-z", "--string-size", type=_args.positive_int, default=80,
                   help="maximum string size to read from char* arguments")
    p.add_argument("-i", "--interval", type=_args.positive_int, default=1,
                   help="output interval, in seconds (default 1 second)")
    p.add_argument("-d", "--duration", type=_args.positive_int,
                   help="total duration of trace, in seconds")
    p.add_argument("-n", "--number", type=_args.positive_int, dest="number",
                   help="number of outputs")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the generated BPF C (on stderr) before running")
    p.add_argument("-c", "--cumulative", action="store_true",
                   help="do not clear histograms and freq counts at each interval")
    p.add_argument("-T", "--top", type=_args.positive_int,
                   help="number of top results to show (not applicable to histograms)")
    p.add_argument("-H", "--histogram", action="append", dest="histspecifier",
                   metavar="specifier", help="probe specifier to capture histogram of")
    p.add_argument("-C", "--count", action="append", dest="countspecifier",
                   metavar="specifier", help="probe specifier to capture count of")
    _args.add_include(p)
    _args.add_maps(p)
    _args.add_json(p, "interval")
    return p


def program(i: int, p, hist: bool, string_size: int) -> str:
    """The C of one specifier: its map(s), its entry program if it needs one, and its
    program."""
    entry = _probegen.needs_entry(p)
    ctx, decls = _probegen.preamble(p, [p.filter or ""] + p.exprs)
    out, enter = "", ""
    end = "\treturn 0;\n"
    if entry:
        out += _probegen.entry_program(i, p)
        decls += "\t__u32 __tid = (__u32)bpf_get_current_pid_tgid();\n" \
                 "\tstruct probe_entry *__entry;\n"
        enter = f"\t__entry = bpf_map_lookup_elem(&entries{i}, &__tid);\n" \
                "\tif (!__entry)\n\t\treturn 0;\n" + _probegen.entry_values(p)
        end = f"done:\n\tbpf_map_delete_elem(&entries{i}, &__tid);\n\treturn 0;\n"
    leave = "goto done" if entry else "return 0"
    pred = f"\tif (!({_probegen.rewrite(p, p.filter)}))\n\t\t{leave};\n" if p.filter else ""
    if hist:
        out += f"\nHASH_MAP(hists{i}, __u32, struct hist, 1);\n"
        record = ("\t{\n\t\t__u32 zero = 0;\n\t\t__u64 v;\n\n"
                  + _probegen.value_c(p, p.exprs[0], p.types[0], "v").replace("\t", "\t\t")
                  + f"\t\thist_add(&hists{i}, &zero, v);\n\t}}\n")
    else:
        fields = "".join(
            f"\tchar v{j}[{string_size}];\n" if _probegen.is_string(t, e) else f"\t__u64 v{j};\n"
            for j, (t, e) in enumerate(zip(p.types, p.exprs)))
        out += f"\nstruct probe{i}_key {{\n{fields}}};\n" \
               f"HASH_MAP(counts{i}, struct probe{i}_key, __u64, 10240);\n"
        record = f"\t{{\n\t\tstruct probe{i}_key k = {{}};\n\n" + "".join(
            _probegen.value_c(p, e, t, f"k.v{j}").replace("\t", "\t\t")
            for j, (t, e) in enumerate(zip(p.types, p.exprs))) + \
            f"\t\tcounter_add(&counts{i}, &k, 1);\n\t}}\n"
    return "".join(p.helpers) + out + f"""
SEC("{_probegen.section(p)}")
int probe{i}({ctx})
{{
{decls}
\tif (!probe_wanted())
\t\treturn 0;
{enter}{pred}{record}{end}}}
"""


def _int(raw: bytes, ctype: str) -> int:
    size, signed = _INTS.get(" ".join(ctype.replace("const ", "").split()), (8, False))
    return int.from_bytes(raw[:size], "little", signed=signed)


class Spec:
    """One specifier with what reading its map needs."""

    def __init__(self, i: int, text: str, hist: bool, string_size: int):
        self.i, self.hist, self.size = i, hist, string_size
        try:
            self.p = parse_argdist(text, hist)
        except SpecError as e:
            raise SystemExit(f"error: {e}") from None
        self.strings = [_probegen.is_string(t, e) for t, e in zip(self.p.types, self.p.exprs)]

    @property
    def title(self) -> str:
        return self.p.label or self.p.raw

    def key(self, raw: bytes) -> list:
        out, off = [], 0
        for s, t in zip(self.strings, self.p.types):
            if s:
                out.append(_common.cstr(raw[off:off + self.size]))
                off += self.size
            else:
                out.append(_int(raw[off:off + 8], t))
                off += 8
        return out

    def describe(self, values: list) -> str:
        if self.p.default_expr:
            return "total calls" if self.p.kind != "r" else f"retval = {values[0]}"
        return ", ".join(f"{e} = {v}" for e, v in zip(self.p.exprs, values))

    def counts(self, m, clear: bool) -> list[tuple[int, list]]:
        # cleared: each entry taken out as read (no count lost between read and delete)
        rows = [(int.from_bytes(v[:8], "little"), self.key(bytes(k)))
                for k, v in (m.drain_raw() if clear else m.items_raw())]
        rows.sort(key=lambda r: r[0])
        return rows


def run(args, out):
    if not (args.countspecifier or args.histspecifier):
        raise SystemExit("error: at least one specifier is required (-C or -H)")
    size = (args.string_size + 7) & ~7
    specs = [Spec(i, s, False, size) for i, s in enumerate(args.countspecifier or [])]
    specs += [Spec(len(specs) + i, s, True, size)
              for i, s in enumerate(args.histspecifier or [])]
    parts = [("", _probegen.include_lines(args.include)
              + _probegen.tracepoint_structs([s.p for s in specs]))] + [
        (s.p.raw, program(s.i, s.p, s.hist, size)) for s in specs]
    consts = {"self_tgid": os.getpid()}
    # bcc's -n (outputs) and -d (seconds) onto the shared interval loop
    args.count = args.number or 99999999
    if args.duration:
        args.count = min(args.count, max(1, args.duration // args.interval))
    clear = not args.cumulative

    def report():
        when = time.strftime("%H:%M:%S")
        recs = []
        if not out.json:
            out.stream.write("[%s]\n" % when)
        for s in specs:
            if s.hist:
                slots = next(iter(_hist.read(obj.maps[f"hists{s.i}"], clear).values()),
                             [0] * _hist.MAX_SLOTS)
                unit = s.p.label or (s.p.exprs[0] if not s.p.default_expr else "retval")
                if out.json:
                    recs.append({"spec": s.p.raw, "label": s.p.label, "type": "hist",
                                 "unit": unit, "total": sum(slots),
                                 "buckets": _hist.buckets(slots)})
                elif any(slots):
                    from ...bcc import hist as bcc_hist
                    out.stream.write("\n".join(bcc_hist.log2_lines(slots, unit)) + "\n")
                continue
            rows = s.counts(obj.maps[f"counts{s.i}"], clear)
            if args.top:
                rows = rows[-args.top:]
            if out.json:
                recs.append({"spec": s.p.raw, "label": s.p.label, "type": "freq",
                             "counts": [{"count": n, "values": dict(zip(s.p.exprs, v))}
                                        for n, v in rows]})
                continue
            out.stream.write(s.title + "\n\t%-10s %s\n" % ("COUNT", "EVENT"))
            for n, v in rows:
                out.stream.write("\t%-10s %s\n" % (n, s.describe(v)))
        if out.json:
            out.row("", {"time": when, "probes": recs})

    with _args.Filters(args) as f, _probegen.load("argdist", parts, f, consts,
                                                  args.verbose,
                                                  [s.p for s in specs]) as obj:
        for s in specs:
            _probegen.attach(obj, s.i, s.p, args.pid or -1)
            if _probegen.needs_entry(s.p):
                _probegen.attach(obj, s.i, s.p, args.pid or -1, prog=f"probe{s.i}_entry",
                                 entry=True)
        _run.intervals("argdist", obj, args, out, report,
                       banner="Tracing %d probes... Hit Ctrl-C to end." % len(specs))
    return 0


def main(argv=None) -> int:
    return _run.main("argdist", parser, run, argv)
