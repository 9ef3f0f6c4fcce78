"""Turn bcc-dialect C into libbpf-style C that clang compiles against vmlinux.h.

What changes (line numbers are kept, so clang's and the verifier's lines match the user's):
- kernel ``#include`` lines are dropped (vmlinux.h has the types);
- ``BPF_TABLE("hash", ...)`` loses its quotes; ``map.method(a)`` becomes
  ``__bcc_M_method(&map, a)`` (pybpf_bcc.h defines both);
- ``bpf_trace_printk("...")`` passes its format's size, as the helper needs;
- probe functions get an ELF section: TRACEPOINT_PROBE and ``tracepoint__cat__event``,
  ``raw_tracepoint__``, and the kprobe family (``kprobe__``, ``kretprobe__``,
  ``syscall__`` and functions taking ``struct pt_regs *``), whose arguments are read from
  the registers, or, on kernels without kprobes, from an fentry/fexit or syscall
  tracepoint context (see :class:`Binding`);
- structs for ``struct tracepoint__<cat>__<event>`` are generated from tracefs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import errors
from . import scan, textfixes
from .events import event_type_name

INCLUDE_DIR_NAME = "include"

_KERNEL_INCLUDE = re.compile(
    r"^[ \t]*#[ \t]*include[ \t]*[<\"](?:linux|uapi|net|asm|asm-generic|bcc(?!/proto\.h)|"
    r"trace|kernel|scsi|crypto|drm|rdma|sound|video|xen|media|keys|clocksource|misc)/"
    r"[^>\"]*[>\"][^\n]*$",
    re.M)
_TABLE_MACRO = re.compile(
    r"\b(BPF_(?:HASH|ARRAY|HISTOGRAM|PERCPU_HASH|PERCPU_ARRAY|LRU_HASH|"
    r"STACK_TRACE(?:_BUILDID)?|PERF_OUTPUT|RINGBUF_OUTPUT|PROG_ARRAY|QUEUE|STACK|LPM_TRIE|"
    r"TABLE(?:_PUBLIC|_SHARED)?|F_TABLE|"
    r"DEVMAP|CPUMAP|XSKMAP|SOCKMAP|SOCKHASH|CGROUP_ARRAY|PERF_ARRAY|SK_STORAGE|"
    r"INODE_STORAGE|TASK_STORAGE|(?:PERCPU_)?CGROUP_STORAGE|ARRAY_OF_MAPS|HASH_OF_MAPS))"
    r"\s*\(")
METHODS = ("lookup", "lookup_or_init", "lookup_or_try_init", "update", "insert", "delete",
           "increment", "atomic_increment", "perf_submit", "perf_submit_skb",
           "ringbuf_output", "ringbuf_reserve", "ringbuf_submit", "ringbuf_discard",
           "ringbuf_query", "perf_read", "perf_counter_value",
           "get_stackid", "call", "push", "pop", "peek", "redirect_map",
           # networking, socket and local-storage maps (include/pybpf_netmaps.h)
           "sock_map_update", "sock_hash_update", "msg_redirect_hash", "msg_redirect_map",
           "sk_redirect_hash", "sk_redirect_map", "sk_storage_get", "sk_storage_delete",
           "inode_storage_get", "inode_storage_delete", "task_storage_get",
           "task_storage_delete", "get_local_storage", "check_current_task", "perf_read",
           "perf_counter_value")
_INNER_MAP = re.compile(r"(\bBPF_(?:ARRAY|HASH)_OF_MAPS\s*\([^;\"]*)\"(\w+)\"")
_PRINTK = re.compile(r"\bbpf_trace_printk\s*\(")
_TP_STRUCT = re.compile(r"\bstruct\s+tracepoint__(\w+?)__(\w+)\b")
SYSCALL_FN = re.compile(r"^(?:__x64_|__ia32_|__arm64_|__s390x_|__riscv_|__se_|__do_)?sys_(\w+)$")
_PROBE_MACROS = {"TRACEPOINT_PROBE", "RAW_TRACEPOINT_PROBE", "KFUNC_PROBE", "KRETFUNC_PROBE",
                 "KMOD_RET", "LSM_PROBE"}


@dataclass
class Binding:
    """How a kprobe-family function runs on this kernel.

    ``via``: "kprobe" (registers), "fentry"/"fexit" (BPF trampoline), "tracepoint" (the
    syscall's enter/exit tracepoint), or "" when it is compiled only for uprobes/kprobes
    attached later.  ``target`` is the kernel function or "syscalls:sys_enter_x"."""

    via: str
    target: str = ""
    syscall: str = ""         # the syscall name when the target is one
    retprobe: bool = False
    nargs: int = 0            # fexit: the traced function's argument count (ret is next)
    argmap: tuple = ()        # raw_tp: tracepoint argument of each kprobe argument (-1: 0)
    ip: int = 0               # raw_tp: the function's address, for PT_REGS_IP(ctx)


@dataclass
class Probe:
    """A program in the rewritten source and how pybpf attaches it."""

    name: str
    kind: str                 # kprobe, kretprobe, tracepoint, raw_tracepoint, kfunc,
    #                           kretfunc, kmod_ret, lsm, generic
    target: str = ""          # function / "cat:event" / raw tracepoint name
    auto: bool = False        # attach when the BPF object is created
    binding: Binding | None = None
    section: str = ""
    ctx_type: str = ""        # first parameter's type (picks the program type of generics)


@dataclass
class Rewritten:
    source: str
    tables: list[str] = field(default_factory=list)
    probes: dict[str, Probe] = field(default_factory=dict)
    tracepoints: list[tuple[str, str]] = field(default_factory=list)
    events: dict[str, str] = field(default_factory=dict)   # output table -> C type


def table_names(text: str, clean: str) -> list[str]:
    names = []
    for m in _TABLE_MACRO.finditer(clean):
        close = scan.matching(clean, m.end() - 1)
        if close < 0:
            continue
        args = scan.split_args(text[m.end():close])
        idx = 3 if m.group(1).startswith(("BPF_TABLE", "BPF_F_TABLE")) else 0
        if len(args) > idx and re.fullmatch(r"[A-Za-z_]\w*", args[idx]):
            names.append(args[idx])
    return names


def kprobe_event(name: str) -> tuple[str, str] | None:
    """(kind, target) from a kprobe-family function name, None for other names."""
    for prefix, kind in (("kprobe__", "kprobe"), ("kretprobe__", "kretprobe"),
                         ("syscall__", "syscall")):
        if name.startswith(prefix) and len(name) > len(prefix):
            return kind, name[len(prefix):]
    return None


def rewrite(text: str, *, bind=None, bindings: dict[str, Binding] | None = None,
            tp_struct=None, kernel_tags=None, cflags=()) -> Rewritten:
    """Rewrite bcc C.

    ``bind(kind, target, syscall, retprobe)`` chooses a :class:`Binding` for a kprobe
    function (it knows the kernel's hooks); ``bindings`` overrides it per function name
    (used when a function is attached to a target chosen at run time).
    ``tp_struct(cat, event)`` returns the C struct for a tracepoint.
    ``kernel_tags`` is the set of struct/union/enum tags vmlinux.h defines (default: this
    kernel's, see :mod:`.prelude`); a tag the text defines too is renamed in the text.
    ``cflags``: the ``-D`` macros among them may name a table's type (bcc's
    xdp_drop_count.py: ``BPF_TABLE(MAPTYPE, ...)`` with ``-DMAPTYPE="percpu_array"``).
    """
    bindings = bindings or {}
    text = _KERNEL_INCLUDE.sub("", text)
    # maps of maps name their inner map by a string: the macro needs the identifier
    text = _INNER_MAP.sub(lambda m: m.group(1) + m.group(2), text)
    text = _dedupe_wrappers(text)
    clean = scan.blank_comments(text)
    text, clean = _rename_own_tags(text, clean, kernel_tags)
    text, clean = textfixes.forward_real_ctx(text, clean)
    text, clean = textfixes.spell_in6_members(text, clean)
    out = Rewritten(source="")
    out.tables = table_names(text, clean)
    edits: list[tuple[int, int, str]] = []

    string_macros = None
    for m in re.finditer(r"\bBPF_(?:F_)?TABLE(?:_PUBLIC|_SHARED)?\s*\(\s*", clean):
        q = re.match(r"\"(\w+)\"", text[m.end():])
        if q:
            edits.append((m.end(), m.end() + q.end(), q.group(1)))
            continue
        q = re.match(r"([A-Za-z_]\w*)\s*,", text[m.end():])
        if q:
            # bcc pastes the type into a section name after preprocessing: a macro that
            # expands to the quoted type works there, so it must here
            if string_macros is None:
                string_macros = _string_macros(clean, cflags)
            if q.group(1) in string_macros:
                edits.append((m.end(), m.end() + len(q.group(1)),
                              string_macros[q.group(1)]))
    # map methods and printk in macro bodies too (bcc rewrites after preprocessing)
    code = scan.blank_comments(text, directives=False)
    if out.tables:
        pat = re.compile(r"\b(%s)\s*\.\s*(%s)\s*\(" % ("|".join(map(re.escape, out.tables)),
                                                       "|".join(METHODS)))
        for m in pat.finditer(code):
            empty = code[m.end():].lstrip().startswith(")")
            edits.append((m.start(), m.end(),
                          f"__bcc_M_{m.group(2)}(&{m.group(1)}" + ("" if empty else ", ")))
            edits += textfixes.brace_args(code, m.end())
    for m in _PRINTK.finditer(code):
        edits.append((m.start(), m.end(), "__bcc_trace_printk("))

    fns = scan.functions(text, clean)
    for fn in fns:
        edit = _function(fn, text, clean, out, bind, bindings)
        if edit is not None:
            edits.append(edit)
            probe = out.probes.get(fn.name)
            if probe is not None and probe.binding is not None and \
                    probe.binding.via in ("kprobe", "tracepoint", "raw_tp") and \
                    not _ast_reads():
                # without libclang: kprobe arguments' members only (kderef does the rest)
                edits += deref_edits(fn, text, clean)

    # a trampoline macro whose header sits in a preprocessor conditional, one per branch
    # before a shared body (opensnoop: `#if defined(CONFIG_ARCH_HAS_SYSCALL_WRAPPER)`
    # `KRETFUNC_PROBE(f, struct pt_regs *regs, int ret) {` `#else` `KRETFUNC_PROBE(f, int
    # dfd, ...) {` `#endif`), is no function to the scanner; the macro alone makes the
    # program (its section), so it is attached all the same
    for m in _TRAMPOLINE_MACRO.finditer(clean):
        p = _trampoline_probe(m.group(1), m.group(2))
        out.probes.setdefault(p.name, p)

    for m in _TP_STRUCT.finditer(clean):
        tp = (m.group(1), m.group(2))
        if tp not in out.tracepoints:
            out.tracepoints.append(tp)

    body = _apply(text, edits)
    head = ["#include <pybpf_bcc.h>"] + textfixes.own_member_undefs(clean)
    if any(p.binding is not None and (p.binding.via in ("raw_tp", "fexit") or (
            p.binding.via == "tracepoint" and p.binding.retprobe))
           for p in out.probes.values()):
        head.append(_STANDIN_MAP)
    if tp_struct is not None:
        head += [tp_struct(c, e) for c, e in out.tracepoints]
    anchors = []
    for t in out.tables:
        tname = event_type_name(text, t, clean)
        if tname:
            out.events[t] = tname
            # locals' types are not in BTF: an unused global function taking a pointer to
            # the event type puts it there, so Python can decode events from BTF
            anchors.append(f"void __pybpf_event_{t}({tname} *e) {{}}")
    lic = "" if re.search(r"SEC\(\s*\"license\"", clean) else \
        '\nchar _pybpf_license[] SEC("license") = "%s";\n' % \
        textfixes.license_of(clean, cflags)
    out.source = "\n".join(head) + '\n#line 1 "bpf_text"\n' + body + lic + \
        "".join(a + "\n" for a in anchors)
    return out


def _string_macros(clean: str, cflags) -> dict[str, str]:
    """Object-like macros whose value is one quoted word, from ``-DNAME="word"`` cflags and
    the text's own ``#define NAME "word"`` (the text's win: it defines them later)."""
    out = {}
    for c in cflags:
        m = re.fullmatch(r"-D\s*([A-Za-z_]\w*)=\"(\w+)\"", c)
        if m:
            out[m.group(1)] = m.group(2)
    for m in re.finditer(r'^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+"(\w+)"[ \t]*$',
                         clean, re.M):
        out[m.group(1)] = m.group(2)
    return out


# x86-64, arm64 and the others bpf_tracing.h knows read six argument registers
_MAX_REG_ARGS = 6
_OWN_TAG = re.compile(r"^[ \t]*(?:typedef[ \t]+)?(struct|union|enum)[ \t]+(\w+)[ \t\n]*\{", re.M)


def _ast_reads() -> bool:
    from .kderef import available
    return available()


def _rename_own_tags(text: str, clean: str, kernel_tags) -> tuple[str, str]:
    """A struct the text defines that vmlinux.h defines too (dcsnoop's ``struct nameidata``,
    mountsnoop's ``struct mnt_namespace``) is renamed throughout the text: the program's
    own definition wins, as it does in bcc where kernel headers lack such private types."""
    own = {(m.group(1), m.group(2)) for m in _OWN_TAG.finditer(clean)}
    if not own:
        return text, clean
    if kernel_tags is None:
        from .prelude import kernel_tags as kt
        kernel_tags = kt()
    clash = {(k, n) for k, n in own if n in kernel_tags}
    if not clash:
        return text, clean
    edits = []
    for kind, name in clash:
        for m in re.finditer(r"\b%s\s+%s\b" % (kind, re.escape(name)), clean):
            edits.append((m.start(), m.end(), f"{kind} __bcc_own_{name}"))
    text = _apply(text, edits)
    return text, scan.blank_comments(text)


def _dedupe_wrappers(text: str) -> str:
    """Drop a function definition repeated verbatim (rdmaucma's body wrappers are added
    once per probe it attaches): bcc's front end accepts it, C does not."""
    clean = scan.blank_comments(text)
    seen: set[str] = set()
    edits = []
    for fn in scan.functions(text, clean):
        whole = text[fn.decl_start:fn.body_end]
        if whole in seen:
            edits.append((fn.decl_start, fn.body_end,
                          "\n" * whole.count("\n")))
        seen.add(whole)
    return _apply(text, edits) if edits else text


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    parts, pos = [], 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            continue  # overlapping edit (inside a rewritten header): the first wins
        parts += [text[pos:start], new]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


_TRAMPOLINE_MACRO = re.compile(r"^[ \t]*(KFUNC_PROBE|KRETFUNC_PROBE|KMOD_RET|LSM_PROBE)"
                               r"\s*\(\s*(\w+)", re.M)


def _trampoline_probe(macro: str, target: str) -> Probe:
    kind, prefix, sec = {"KFUNC_PROBE": ("kfunc", "kfunc__", "fentry"),
                         "KRETFUNC_PROBE": ("kretfunc", "kretfunc__", "fexit"),
                         "KMOD_RET": ("kmod_ret", "kmod_ret__", "fmod_ret"),
                         "LSM_PROBE": ("lsm", "lsm__", "lsm")}[macro]
    return Probe(prefix + target, kind, target, auto=True, section=f"{sec}/{target}")


def _called_elsewhere(name: str, fn: scan.Function, clean: str) -> bool:
    for m in re.finditer(r"\b%s\s*\(" % re.escape(name), clean):
        if not (fn.decl_start <= m.start() < fn.body_start):
            return True
    return False


def _function(fn: scan.Function, text: str, clean: str, out: Rewritten, bind,
              bindings: dict[str, Binding]) -> tuple[int, int, str] | None:
    name = fn.name
    if name in _PROBE_MACROS:
        args = [a.strip() for a in scan.split_args(fn.params)]
        if name == "TRACEPOINT_PROBE" and len(args) == 2:
            pname = f"tracepoint__{args[0]}__{args[1]}"
            out.probes[pname] = Probe(pname, "tracepoint", f"{args[0]}:{args[1]}", auto=True,
                                      section=f"tracepoint/{args[0]}/{args[1]}")
            if (args[0], args[1]) not in out.tracepoints:
                out.tracepoints.append((args[0], args[1]))
        elif name == "RAW_TRACEPOINT_PROBE" and args:
            pname = f"raw_tracepoint__{args[0]}"
            out.probes[pname] = Probe(pname, "raw_tracepoint", args[0], auto=True,
                                      section=f"raw_tracepoint/{args[0]}")
        elif args:
            p = _trampoline_probe(name, args[0])
            out.probes[p.name] = p
        return None
    if fn.is_static:
        # bcc inlines a program's helper functions; some tools rely on it (xfsdist copies
        # 8 bytes from a 6-byte literal argument, which inlining turns into constants)
        if re.search(r"\b(?:noinline|always_inline|__always_inline)\b", fn.decl):
            return None
        m = re.search(r"\bstatic\b", text[fn.decl_start:fn.params_start])
        at = fn.decl_start + m.end()
        return (at, at, " __attribute__((always_inline))")
    params = scan.split_args(fn.params)
    first = scan.param(params[0])[0] if params and params[0].strip() not in ("", "void") else ""
    m = re.fullmatch(r"tracepoint__(\w+?)__(\w+)", name)
    if m:
        sec = f"tracepoint/{m.group(1)}/{m.group(2)}"
        out.probes[name] = Probe(name, "tracepoint", f"{m.group(1)}:{m.group(2)}", auto=True,
                                 section=sec)
        return (fn.decl_start, fn.decl_start, f'SEC("{sec}") ')
    m = re.fullmatch(r"raw_tracepoint__(\w+)", name)
    if m:
        sec = f"raw_tracepoint/{m.group(1)}"
        out.probes[name] = Probe(name, "raw_tracepoint", m.group(1), auto=True, section=sec)
        return (fn.decl_start, fn.decl_start, f'SEC("{sec}") ')
    if _called_elsewhere(name, fn, clean):
        return None  # a global subprogram, not a program
    ev = kprobe_event(name)
    if ev is None and "pt_regs" not in first and name not in bindings:
        # a program whose type load_func() decides; compiled in a neutral section (one
        # the tool attaches as a kprobe, `int hello(void *ctx)`, is bound like one)
        out.probes[name] = Probe(name, "generic", section=f"pybpf/{name}", ctx_type=first)
        return (fn.decl_start, fn.decl_start, f'SEC("pybpf/{name}") ')
    if ev is None:
        kind, target = "generic_kprobe", ""
    else:
        kind, target = ev
    sysname = ""
    if kind == "syscall":
        sysname = target
    else:
        sm = SYSCALL_FN.match(target)
        sysname = sm.group(1) if sm else ""
    retprobe = kind == "kretprobe"
    binding = bindings.get(name)
    if binding is None:
        if kind == "generic_kprobe" or bind is None:
            binding = Binding("kprobe")     # registers: right for kprobes and uprobes alike
        else:
            binding = bind(kind, target, sysname, retprobe)
    probe_kind = "kretprobe" if binding.retprobe or retprobe else "kprobe"
    probe = Probe(name, probe_kind, target, auto=kind in ("kprobe", "kretprobe"),
                  binding=binding, ctx_type=first)
    out.probes[name] = probe
    return _kprobe_wrapper(fn, text, probe, binding, params)


def _kprobe_wrapper(fn: scan.Function, text: str, probe: Probe, b: Binding,
                    params: list[str]) -> tuple[int, int, str]:
    """Replace the header with: a section-placed entry that reads the arguments where this
    kernel has them, calling the user's body as an inlined function."""
    name = fn.name
    extra = [scan.param(p) for p in params[1:]]
    if len(extra) > _MAX_REG_ARGS and b.via in ("kprobe", ""):
        raise errors.PybpfError(f"{name}: more than {_MAX_REG_ARGS} arguments cannot be read "
                                "from registers")
    body_fn = f"__bcc_body_{name}"
    ret = " ".join(fn.decl.split()) or "int"
    # the body also receives the program's real context (see __BCC_CTX in pybpf_bcc.h)
    has_params = bool(params) and params[0].strip() not in ("", "void")
    hidden = "void *__bcc_real_ctx"
    proto = f"static __always_inline {ret} {body_fn}(" + \
        (f"{fn.params}, {hidden})" if has_params else f"{hidden})")
    real = "ctx"
    casts = []
    if b.via == "kprobe":
        sec = ("kretprobe/" if b.retprobe else "kprobe/") + (b.target or "")
        sec = sec.rstrip("/")
        entry = "struct pt_regs *ctx"
        pre = ""
        first_arg = "(void *)ctx"
        if b.syscall and not b.retprobe:
            pre = "struct pt_regs *__regs = (struct pt_regs *)PT_REGS_PARM1(ctx); "
            src = [f"PT_REGS_PARM{i + 1}_CORE_SYSCALL(__regs)" for i in range(len(extra))]
        else:
            src = [f"PT_REGS_PARM{i + 1}(ctx)" for i in range(len(extra))]
    elif b.via in ("fentry", "fexit"):
        sec = f"{b.via}/{b.target}"
        entry = "unsigned long long *ctx"
        first_arg = "(void *)ctx"
        pre = ""
        if b.via == "fexit":
            pre = (f"{_STANDIN} __r->__PT_RC_REG = ctx[{b.nargs}]; ")
            first_arg = "(void *)__r"
            src = []
        elif b.syscall:
            pre = "struct pt_regs *__regs = (struct pt_regs *)ctx[0]; "
            src = [f"PT_REGS_PARM{i + 1}_CORE_SYSCALL(__regs)" for i in range(len(extra))]
        else:
            src = [f"ctx[{i}]" for i in range(len(extra))]
    elif b.via == "raw_tp":
        # a tracepoint firing in the same function (see kprobe_tp): its arguments, in the
        # kprobe's order, also in a stand-in pt_regs (for PT_REGS_PARMn/IP(ctx))
        sec = f"raw_tp/{b.target.split(':')[-1]}"
        entry = "unsigned long long *ctx"
        src = [f"ctx[{j}]" if j >= 0 else "0" for j in b.argmap]
        regs = ("__PT_PARM1_REG", "__PT_PARM2_REG", "__PT_PARM3_REG", "__PT_PARM4_REG",
                "__PT_PARM5_REG")
        pre = _STANDIN + " " + "".join(f"__r->{r} = {e}; " for r, e in zip(regs, src)) + \
            (f"__r->__PT_IP_REG = {b.ip:#x}ULL; " if b.ip else "")
        first_arg = "(void *)__r"
    elif b.via == "tracepoint":
        if b.retprobe:
            sec = f"tracepoint/syscalls/sys_exit_{b.syscall}"
            entry = "struct trace_event_raw_sys_exit *__ctx"
            real = "__ctx"
            pre = f"{_STANDIN} __r->__PT_RC_REG = __ctx->ret; "
            first_arg = "(void *)__r"
            src = []
        else:
            sec = f"tracepoint/syscalls/sys_enter_{b.syscall}"
            entry = "struct trace_event_raw_sys_enter *__ctx"
            real = "__ctx"
            pre = ""
            first_arg = "(void *)__ctx"
            src = [f"__ctx->args[{i}]" for i in range(len(extra))]
    else:
        raise errors.PybpfError(f"{name}: unknown binding {b.via!r}")
    if b.retprobe:
        src = []
    for (ptype, pname), expr in zip(extra, src):
        casts.append(f"({ptype}){expr}" if ptype else expr)
    while len(casts) < len(extra):
        casts.append("0")
    args = ", ".join(([first_arg] + casts if has_params else []) + [real])
    probe.section = sec
    call = f"{body_fn}({args})"
    region = text[fn.decl_start:fn.body_start]
    # a void body (bcc allows `return;` there) is called, and the program returns 0
    if ret.split()[-1:] == ["void"] and "*" not in ret:
        ret_stmt = f"{call}; return 0;"
    elif "*" in ret:
        # a body returning a pointer (bcc's tests do): the program returns it as a number
        ret_stmt = f"return (int)(long){call};"
    else:
        ret_stmt = f"return {call};"
    new = (f"{proto}; SEC(\"{sec}\") int {name}({entry}) {{ {pre}{ret_stmt} }} {proto} ")
    return (fn.decl_start, fn.body_start, new + "\n" * region.count("\n"))


# A stand-in pt_regs, for bodies run from a tracepoint (or fexit) in place of a kprobe:
# per-CPU map memory rather than the stack, where its 168 bytes would crowd the tools'
# own event structs out of the 512-byte limit.
_STANDIN_MAP = (
    "struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); "
    "__type(key, __u32); __type(value, struct pt_regs); } __bcc_regs SEC(\".maps\");\n"
    "static __always_inline struct pt_regs *__bcc_standin(void) { __u32 __z = 0; "
    "struct pt_regs *__r = bpf_map_lookup_elem(&__bcc_regs, &__z); "
    "if (__r) __builtin_memset(__r, 0, sizeof(*__r)); return __r; }")
_STANDIN = "struct pt_regs *__r = __bcc_standin(); if (!__r) return 0;"

_DEREF = re.compile(r"(?<![&\w.>])(%s)\s*->\s*(\w+)((?:\s*(?:->|\.)\s*\w+)*)")
_LVALUE_AFTER = re.compile(r"\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)|\s*(?:\+\+|--)")


def deref_edits(fn: scan.Function, text: str, clean: str) -> list[tuple[int, int, str]]:
    """Reads through kernel pointers a kprobe receives (``prev->pid``) become
    ``BPF_CORE_READ(prev, pid)``: bcc turns them into probe reads, since the verifier
    lets a kprobe dereference only its context and the stack."""
    ptrs, tags = [], {}
    for p in scan.split_args(fn.params)[1:]:
        ptype, pname = scan.param(p)
        tm = re.fullmatch(r"(?:const\s+)?struct\s+(\w+)\s*\*", ptype.strip())
        if pname and tm and "__user" not in ptype:
            ptrs.append(pname)
            tags[pname] = tm.group(1)
    if not ptrs:
        return []
    pat = re.compile(_DEREF.pattern % "|".join(map(re.escape, ptrs)))
    edits = []
    seg = clean[fn.body_start:fn.body_end]
    for m in pat.finditer(seg):
        after = seg[m.end():]
        if after.lstrip().startswith(("[", "(")) or _LVALUE_AFTER.match(after):
            continue
        hops = [m.group(2)]
        for step in re.finditer(r"\s*(->|\.)\s*(\w+)", m.group(3)):
            if step.group(1) == ".":
                hops[-1] += "." + step.group(2)
            else:
                hops.append(step.group(2))
        if _ends_in_array(tags[m.group(1)], hops):
            continue  # the address of an array member: arithmetic, not a read
        start = fn.body_start + m.start()
        edits.append((start, fn.body_start + m.end(),
                      f"BPF_CORE_READ({m.group(1)}, {', '.join(hops)})"))
    return edits


def _ends_in_array(struct: str, hops: list[str]) -> bool:
    """Whether ``struct``'s member path ``hops`` ends in an array, per kernel BTF."""
    from ..btf.kernel import load_vmlinux
    from ..btf.types import Kind
    try:
        spec = load_vmlinux()
        ids = spec.find(struct, Kind.STRUCT)
        if not ids:
            return False
        tid = ids[0]
        names = [n for hop in hops for n in hop.split(".")]
        for i, name in enumerate(names):
            t = spec[spec.resolve(tid)]
            if t.kind == Kind.PTR:
                t = spec[spec.resolve(t.type)]
            member = _member(spec, t, name)
            if member is None:
                return False
            tid = member
        return spec[spec.resolve(tid)].kind == Kind.ARRAY
    except errors.PybpfError:
        return False


def _member(spec, t, name: str, depth: int = 0) -> int | None:
    from ..btf.types import Kind
    if depth > 8 or t.kind not in (Kind.STRUCT, Kind.UNION):
        return None
    for m in t.members:
        if m.name == name:
            return m.type
        if not m.name:   # anonymous struct/union: its members are the parent's
            inner = _member(spec, spec[spec.resolve(m.type)], name, depth + 1)
            if inner is not None:
                return inner
    return None
