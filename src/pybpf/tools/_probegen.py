"""BPF C for trace's and argdist's probe specifiers, compiled through the compile cache
and attached: the C half every tool shares.

Why generated C, not one fixed CO-RE object driven by maps: bcc's specifiers carry C (a
predicate such as ``(arg2 == 42 && arg3 > 100)``, values such as ``arg1 * 2`` or
``args->nr_sector``, types such as ``size_t``), and users expect all of it.  A fixed
object would need an expression interpreter of its own in BPF, and would still take only
a subset.  So each run writes the C of its probes after the tool's fixed half
(``<tool>/<tool>.bpf.c``: maps, filters, the event head), and clang compiles it once per
distinct text through pybpf's compile cache (a repeated command is a cache hit, no clang
run).  The cost: a host without clang cannot run them (one clear error says so);
the other tools are prebuilt objects and need none.

In expressions: ``arg1``..``arg6`` (function or USDT arguments), ``retval`` /
``$retval`` (return probes), signature parameter names, ``args->field`` (tracepoint
fields, from the event's format file), ``$pid``, ``$tgid``, ``$uid``, ``$gid``,
``$cpu``, ``$task`` and argdist's ``$PID``, ``$COMM``, ``$latency``, ``$entry(param)``.
Pointers are read with helpers (``%s`` and ``char*`` values read the string, from user
memory or else kernel memory; ``STRCMP("text", expr)`` compares one with a literal, or
with -B a byte list such as ``STRCMP("{0x6c, 0x00}", arg4)``).  Reads through pointers
(``how->flags``, ``$task->real_parent->tgid``, ``*p``, ``p[i]``) become probe reads, as
bcc's trace does: the generated text goes through the bcc front end's pass on clang's AST
(:mod:`pybpf.bcc.kderef`), told that a uprobe's or USDT probe's arguments (and a
syscall's) point into user memory and a kernel function's into the kernel's.
"""

from __future__ import annotations

import os
import re

from .. import errors
from . import TOOLS_DIR, _probes
from ._probespec import C_TYPES, Probe, is_string_type

_ARG = re.compile(r"\barg([1-6])(?:@user)?\b")
_ENTRY = re.compile(r"\$entry\(\s*(\w+)\s*\)")
_ALIASES = (("$retval", "PT_REGS_RC(ctx)"),
            ("$pid", "((__u32)bpf_get_current_pid_tgid())"),
            ("$tgid", "((__u32)(bpf_get_current_pid_tgid() >> 32))"),
            ("$PID", "((__u32)(bpf_get_current_pid_tgid() >> 32))"),
            ("$uid", "((__u32)bpf_get_current_uid_gid())"),
            ("$gid", "((__u32)(bpf_get_current_uid_gid() >> 32))"),
            ("$cpu", "bpf_get_smp_processor_id()"),
            ("$task", "((struct task_struct *)bpf_get_current_task())"))


def needs_entry(p: Probe) -> bool:
    """A return probe whose expressions or filter use $latency or $entry(param)."""
    text = " ".join(p.exprs + [p.filter or ""])
    return p.kind == "r" and ("$latency" in text or "$entry(" in text)


def _strcmp(p: Probe, expr: str) -> str:
    """bcc's ``STRCMP("literal", expr)`` (true when the string at expr is the literal) as
    a call of a helper written for it (``p.helpers``: emitted before the program)."""
    from ._probespec import _balanced, split_top
    out, i = "", 0
    while True:
        j = expr.find("STRCMP(", i)
        if j < 0:
            return out + expr[i:]
        end = _balanced(expr, j + 6)
        if end < 0:
            p.bail("unmatched '(' after STRCMP")
        args = split_top(expr[j + 7:end - 1])
        if len(args) != 2 or not re.fullmatch(r'"(?:[^"\\]|\\.)*"', args[0]):
            p.bail('STRCMP takes ("literal", expression)')
        n = len(p.helpers)
        lit = args[0]
        if p.bin_cmp:
            p.helpers.append(_bytes_helper(n, lit[1:-1]))
            out += expr[i:j] + f"__streq{n}((const void *)({args[1]}))"
            i = end
            continue
        p.helpers.append(f"""
static __always_inline bool __streq{n}(const void *s)
{{
\tconst char want[] = {lit};
\tchar got[sizeof(want) + 1] = {{}};

\tread_str(got, sizeof(got), s);
\tfor (int i = 0; i < sizeof(want); i++)
\t\tif (got[i] != want[i])
\t\t\treturn false;
\treturn true;
}}
""")
        out += expr[i:j] + f"__streq{n}((const void *)({args[1]}))"
        i = end


def _bytes_helper(n: int, value: str) -> str:
    """trace -B's STRCMP: ``value`` (the literal's text) is a C initializer of bytes,
    ``{0x6c, 0x00}``, or else the literal's characters without their NUL; true when the
    memory at the pointer starts with exactly those bytes (binary: NULs included)."""
    brace = value.lstrip().startswith("{")
    init = value if brace else f'"{value}"'
    count = "sizeof(want)" if brace else "sizeof(want) - 1"
    return f"""
static __always_inline bool __streq{n}(const void *s)
{{
\tconst unsigned char want[] = {init};
\tunsigned char got[sizeof(want)] = {{}};

\tif (bpf_probe_read_user(got, {count}, s) < 0 &&
\t    bpf_probe_read_kernel(got, {count}, s) < 0)
\t\treturn false;
\tfor (int i = 0; i < {count}; i++)
\t\tif (got[i] != want[i])
\t\t\treturn false;
\treturn true;
}}
"""


def rewrite(p: Probe, expr: str) -> str:
    """A specifier's expression as C in the probe's program (see the module docstring)."""
    if "STRCMP(" in expr:
        expr = _strcmp(p, expr)
    if p.kind == "r":
        expr = re.sub(r"(?<![\w])\$?retval\b", "__retval", expr)
    expr = expr.replace("$latency", "(bpf_ktime_get_ns() - __entry->ts)")

    def entry(m):
        names = [n for _, n in p.params]
        if m.group(1) not in names:
            p.bail(f"$entry({m.group(1)}): no such parameter in the signature")
        k = names.index(m.group(1))
        return f"(({p.params[k][0]})__earg{k + 1})"
    expr = _ENTRY.sub(entry, expr)
    for alias, c in _ALIASES:
        expr = expr.replace(alias, c)
    if "$" in expr.replace("$COMM", ""):
        p.bail(f"unknown alias in {expr!r}")
    return _ARG.sub(r"__arg\1", expr)


def _used_args(texts) -> set[int]:
    return {int(n) for t in texts for n in _ARG.findall(t)}


def _arg_origin(p: Probe) -> str:
    """Where a probe's pointer arguments point: "u" (user memory) or "k" (kernel)."""
    return "u" if p.library or p.kind == "u" or _syscall_kprobe(p) else "k"


def _syscall_kprobe(p: Probe) -> bool:
    return not p.library and p.kind in ("p", "r") and p.function.startswith(
        ("__x64_sys_", "__arm64_sys_", "__riscv_sys_", "__s390x_sys_"))


def preamble(p: Probe, texts, entry: bool = False) -> tuple[str, str]:
    """(the program's context parameter, the C declarations before its body): the
    arguments the expressions use, the signature's parameters, a tracepoint's args, a
    return probe's value (not in its ``entry`` half)."""
    if p.kind == "t":
        tag = f"tracepoint__{p.category}__{p.function}"
        return "void *ctx", f"\tstruct {tag} *args = ctx;\n"
    lines = []
    if p.kind == "r" and not entry:
        lines.append("\t__u64 __retval = PT_REGS_RC(ctx);")
    used = _used_args(texts) | set(range(1, len(p.params) + 1))
    for n in sorted(used):
        if p.kind == "u":
            lines.append(f"\tlong __arg{n} = 0;\n\tbpf_usdt_arg(ctx, {n - 1}, &__arg{n});")
        elif _syscall_kprobe(p):
            lines.append(f"\t__u64 __arg{n} = PT_REGS_PARM{n}_CORE_SYSCALL("
                         f"(struct pt_regs *)PT_REGS_PARM1(ctx));")
        else:
            lines.append(f"\t__u64 __arg{n} = PT_REGS_PARM{n}(ctx);")
    for i, (ctype, name) in enumerate(p.params):
        lines.append(f"\t{ctype} {name} = ({ctype})__arg{i + 1};")
    return "struct pt_regs *ctx", "\n".join(lines) + ("\n" if lines else "")


def section(p: Probe) -> str:
    if p.kind == "t":
        return "tracepoint"
    return "kprobe" if not p.library else "uprobe"


def include_lines(headers) -> str:
    """-I's own headers (a path: ./x.h, /abs/x.h), after vmlinux.h as bcc puts them after
    its kernel headers.  A kernel header's name (linux/fs.h) adds nothing: its types are
    in vmlinux.h, and the constants the probes use are looked up in the installed kernel
    headers when the compile misses them."""
    out = ""
    for h in headers or ():
        if h.startswith((".", "/")):
            path = os.path.abspath(h)
            if '"' in path or "\n" in path or not os.path.isfile(path):
                raise errors.PybpfError(f"-I {h}: no such header file")
            out += f'#include "{path}"\n'
    return out


def tracepoint_structs(probes) -> str:
    from ..bcc import tpformat
    done, out = set(), []
    for p in probes:
        if p.kind == "t" and (p.category, p.function) not in done:
            done.add((p.category, p.function))
            out.append(tpformat.struct_for(p.category, p.function))
    return "\n".join(out)


def entry_values(p: Probe) -> str:
    """C after a return probe's entry record ``__entry`` is found: the saved arguments
    as locals ``__earg<n>`` (locals carry where they point for the read pass)."""
    return "".join(f"\t__u64 __earg{k + 1} = __entry->args[{k}];\n"
                   for k in range(len(p.params)))


def entry_program(i: int, p: Probe) -> str:
    """For a return probe using $latency/$entry: the entry program saving the time and
    the arguments per thread, and the map it saves them in."""
    ctx, decls = preamble(p, [], entry=True)
    saves = "".join(f"\tv.args[{k}] = (__u64)__arg{k + 1};\n" for k in range(len(p.params)))
    return f"""
HASH_MAP(entries{i}, __u32, struct probe_entry, 10240);

SEC("{section(p)}")
int probe{i}_entry({ctx})
{{
{decls}\tstruct probe_entry v = {{}};
\t__u32 tid = (__u32)bpf_get_current_pid_tgid();

\tif (!probe_wanted())
\t\treturn 0;
\tv.ts = bpf_ktime_get_ns();
{saves}\tif (bpf_map_update_elem(&entries{i}, &tid, &v, BPF_ANY))
\t\tcount_drop();
\treturn 0;
}}
"""


_DEREF = re.compile(r"->|\[|\*|\$task")


def _may_read_memory(probes) -> bool:
    """Whether an expression may read through a pointer (cheap: ``args->field`` of a
    tracepoint reads its context)."""
    for p in probes:
        for e in [p.filter or ""] + p.values + p.exprs:
            e = re.sub(r'"(?:[^"\\]|\\.)*"', "", e)
            if _DEREF.search(re.sub(r"\bargs->\w+", "", e)):
                return True
    return False


def kernel_reads(text: str, probes, includes) -> str:
    """``text`` with the reads through pointers in the probes' programs (``probe<i>``)
    made probe reads by the bcc front end's AST pass; the result is cached by text.
    Unchanged without libclang (the verifier then names the read)."""
    from ..bcc import kderef
    if not kderef.available():
        return text
    from ..cache import Cache, key_of
    from ..toolchain import _clang_args, _vmlinux_dir, ensure_vmlinux_h, host_arch
    cache = Cache.default()
    vdir, _ = _vmlinux_dir(cache, "")
    if vdir:
        ensure_vmlinux_h(cache, vdir)
    args = _clang_args(host_arch(), [], includes, None, vdir)
    targets = {f"probe{i}": [] for i in range(len(probes))}
    seeds = {}
    for i, p in enumerate(probes):
        o = _arg_origin(p)
        seeds[f"probe{i}"] = dict({f"__arg{n}": o for n in range(1, 7)}, __retval=o,
                                  **{f"__earg{n}": o for n in range(1, 7)})
    ids = []
    for mod in (kderef.__file__, os.path.join(os.path.dirname(kderef.__file__), "cmacro.py")):
        st = os.stat(mod)           # an edited pass misses
        ids += [str(st.st_mtime_ns), str(st.st_size)]
    key = key_of("probegen-kderef", *ids, text, "\0".join(args), repr(seeds))
    done = cache.get(key)
    if done is not None:
        return done.decode()
    out = kderef.apply(text, args, targets, seeds)
    if out != text:         # an unchanged text may be a parse that failed: not kept
        cache.put(key, out.encode())
    return out


def compile_text(tool: str, parts: list[tuple[str, str]], probes=(),
                 head: str = "") -> bytes:
    """The tool's fixed half with the generated ``parts`` ((specifier, C) each) appended,
    compiled (cached by text); ``probes``: the specifiers of programs ``probe<i>``, whose
    reads through pointers become probe reads; ``head``: C put before the fixed half
    (defines that size its maps).  Kernel-header constants the compile misses are
    defined from the installed headers (:mod:`pybpf.bcc.kmacros`).  A compile error is
    one line naming the specifier."""
    from ..toolchain import compile as compile_c
    folder = os.path.join(TOOLS_DIR, tool)
    with open(os.path.join(folder, f"{tool}.bpf.c")) as f:
        text = head + f.read()
    # kernel macros the probes name go before this line (the line after keeps its number)
    mark = f"#line {text.count(chr(10)) + 2}\n/* generated from the probe specifiers */\n"
    text += "\n" + mark
    owners = []                     # (first line, specifier)
    for spec, c in parts:
        owners.append((text.count("\n"), spec))
        text += c
    try:
        if probes and _may_read_memory(probes):
            # the pass keeps line numbers: errors still point at their specifier
            text = kernel_reads(text, probes, [folder])
        try:
            return compile_c(text, includes=[folder])
        except errors.CompileError as e:
            # constants of the kernel's headers (no BTF has macros), from its headers
            from ..bcc.prelude import kernel_macros
            more = kernel_macros(text, e, mark, lambda diag: _where(diag, owners))
        return compile_c(more, includes=[folder])
    except errors.CompileError as e:
        if "\n" not in str(e).strip():
            raise
        raise errors.CompileError(_first_error(str(e), owners)) from None


def _where(message: str, owners) -> str:
    """``probe '<specifier>': `` for clang's first error, if it is in a probe's C."""
    m = re.search(r"^<stdin>:(\d+):\d+: error:", message, re.M)
    spec = None
    if m:
        spec = next((s for first, s in reversed(owners) if first <= int(m.group(1)) and s),
                    None)
    return f"probe {spec!r}: " if spec else ""


def _first_error(message: str, owners) -> str:
    """clang's first error, with the specifier whose C it is in."""
    m = re.search(r"^<stdin>:(\d+):\d+: error: (.*)$", message, re.M)
    if m is None:
        return message.strip().splitlines()[-1] if message.strip() else "compile failed"
    return f"{_where(message, owners)}{m.group(2)} (in the C generated for it; -v prints it)"


def load(tool: str, parts: list[tuple[str, str]], filters, consts: dict,
         verbose: bool = False, probes=(), head: str = ""):
    """Compile and load the generated object (``parts``: (specifier, C) each; ``probes``
    and ``head`` as for :func:`compile_text`) with the shared filters (nothing
    attached)."""
    import sys

    import pybpf
    from . import _common
    if filters.ebpf:
        from ._ebpf import show_text
        show_text(tool, head + "".join(c for _, c in parts), {**filters.consts, **consts},
                  filters.pinned)
    _common.require_privileges()
    if verbose:
        print(head + "".join(c for _, c in parts), file=sys.stderr)
    data = compile_text(tool, parts, probes, head)
    variables = dict(filters.consts)
    variables.update(consts)
    obj = pybpf.load(data, name=tool, variables=variables, maps=filters.maps)
    try:
        filters.apply(obj)
    except BaseException:
        obj.close()
        raise
    return obj


def attach(obj, i: int, p: Probe, pid: int, prog: str | None = None,
           entry: bool = False) -> None:
    """Attach program ``probe<i>`` (or ``prog``) where the specifier says; ``entry``:
    a return probe's entry half, at the function's start."""
    prog = obj.programs[prog or f"probe{i}"]
    retprobe = p.kind == "r" and not entry
    if p.kind == "t":
        obj.links.append(_probes.attach("tracepoint", prog, (p.category, p.function), 0, -1))
    elif p.kind == "u":
        from ..links import usdt
        path = _probes.resolve_lib(p.library)
        provider = p.provider
        if not provider:
            names = sorted({pr.provider for pr in usdt.probes(path) if pr.name == p.function})
            if not names:
                raise errors.PybpfError(f"no USDT probe {p.function!r} in {path}")
            provider = names[0]
        # the object's USDT spec map gets each site's argument spec at fresh ids
        prog.attach_usdt(path, provider, p.function, pid=pid)
    elif not p.library:
        from ..links import kprobe
        if not kprobe.available():
            raise errors.NotSupportedError(
                f"kernel function {p.function!r}", "this kernel has no kprobes "
                "(CONFIG_KPROBES); probe tracepoints (t:cat:event), user functions "
                "(p:lib:func) or USDT probes (u:lib:probe)")
        obj.links.append(kprobe.attach(prog, p.function, offset=p.offset, retprobe=retprobe))
    else:
        from ..links import elfcache, symbols
        path = _probes.resolve_lib(p.library)
        off = elfcache.functions(path).get(p.function)
        if off is not None and off < 0:
            off = symbols.ifunc_target_offset(path, p.function)
        if off is None:
            raise errors.NotFoundError(2, "uprobe", f"no function {p.function!r} in {path}")
        obj.links.append(_probes.attach("uprobe", prog, (path, off + p.offset), 0, pid,
                                        retprobe=retprobe))


def value_c(p: Probe, expr: str, ctype: str, dst: str) -> str:
    """C storing one value in ``dst``: a string read into the char array, $COMM the
    task's name, anything else cast to its type and widened to 64 bits."""
    if expr.strip() == "$COMM":
        return f"\tbpf_get_current_comm(&{dst}, sizeof({dst}));\n"
    if is_string_type(ctype):
        return f"\tread_str({dst}, sizeof({dst}), (const void *)({rewrite(p, expr)}));\n"
    return f"\t{dst} = (__u64)({ctype})({rewrite(p, expr)});\n"


def is_string(ctype: str, expr: str) -> bool:
    return is_string_type(ctype) or expr.strip() == "$COMM"


def conv_type(conv: str) -> str:
    return C_TYPES[conv]
