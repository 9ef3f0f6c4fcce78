"""Kernel-pointer dereferences in bcc C become probe reads, decided on clang's AST.

bcc lets tracing programs write ``task->real_parent->tgid`` or ``sk->__sk_common.skc_daddr``
although the verifier only lets them load through their context, the stack and map values:
its front end rewrites every read through any other pointer into a
``bpf_probe_read_kernel``.  Which expressions are such pointers takes types and data flow
(casts, locals assigned from them, members loaded through them, arrays inside them), which
a regular expression cannot know, so this pass walks clang's own AST.

Front end: libclang through its Python bindings (``clang.cindex``): clang's real parser,
as bcc's (which links the C++ API), shipped beside the clang pybpf needs (Debian's
libclang1-19; the bindings are the pure-Python ``clang`` package of that version); it
reads the precompiled prelude (:mod:`.prelude`): ~0.05 s a parse, only on a first compile.

The rules (bcc's semantics, written for pybpf):
- safe pointers: the program's context (``ctx``, ``args``), addresses of locals and map
  values (``&x``, what helpers like ``bpf_map_lookup_elem`` return), stack arrays;
- kernel pointers: the probe's arguments after the context, ``bpf_get_current_task()``,
  integers cast to pointers (``PT_REGS_PARM1(ctx)``, ``ctx->args[0]``, ``args->skaddr``),
  any pointer loaded from memory, and what those flow into (casts, arithmetic, locals,
  helper function parameters at their call sites);
- a read (not an address ``&p->f``, not ``sizeof``, not an assignment's target, not an
  array decaying to its address) of ``p->f``, ``*p``, ``p[i]`` through a kernel pointer,
  with any ``.g``/``[j]`` after it, becomes one probe read of the whole member path;
- arguments of syscall probes (and ``__user`` ones) are user memory: read with
  ``bpf_probe_read_user``; those of functions not named for a kernel function (they may be
  uprobes) with ``__bcc_probe_read_any`` (bpf_probe_read where it reads either space);
- a read written in one of the program's own macros (``#define PID(t)
  t->real_parent->tgid``) has no text of its own: :mod:`.cmacro` expands that one use in
  the text, and the pass runs again on the result.
"""

from __future__ import annotations

import os
import re

MAIN = "bpf_prog.c"
_USER = '#line 1 "bpf_text"\n'      # where the program's own text starts
_LIBS = ("libclang-{v}.so.1", "libclang-{v}.so", "libclang.so.1", "libclang.so")
_cindex = None


def _lib_path() -> str | None:
    """libclang beside the clang pybpf compiles with (root-owned paths only)."""
    from ..toolchain import find_clang
    try:
        named = find_clang()
    except Exception:
        return None
    clang = os.path.realpath(named)
    m = re.search(r"-(\d+)\b", f"{clang} {named}")     # /usr/lib/llvm-19/bin/clang
    v = m.group(1) if m else ""
    dirs = [os.path.join(os.path.dirname(os.path.dirname(clang)), "lib"),
            "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]
    for d in dirs:
        for pat in _LIBS:
            p = os.path.join(d, pat.format(v=v))
            try:
                st = os.stat(p)
            except OSError:
                continue
            if st.st_uid == 0 and not st.st_mode & 0o022:
                return p
    return None


def cindex():
    """``clang.cindex`` bound to the system's libclang, or None when either is missing."""
    global _cindex
    if _cindex is None:
        try:
            import clang.cindex as ci
        except ImportError:
            _cindex = False
            return None
        lib = _lib_path()
        if lib is None:
            _cindex = False
            return None
        if not ci.Config.loaded:
            ci.Config.set_library_file(lib)
        _cindex = ci
    return _cindex or None


def available() -> bool:
    return cindex() is not None


_ARROW_USE = re.compile(r"([A-Za-z_]\w*|\))\s*->")


def targets(rw) -> dict[str, list]:
    """{function name: origins of its parameters (None, "k" or "u")} for the functions whose
    bodies run as tracing programs."""
    out: dict[str, list] = {}
    for p in rw.probes.values():
        b = p.binding
        if b is not None:
            # a function named for no kernel function may be attached as a uprobe as
            # well as a kprobe: its pointers may be user or kernel addresses ("a")
            out["__bcc_body_" + p.name] = ["u" if b.syscall else "k" if p.target else "a"]
        elif p.kind in ("tracepoint", "raw_tracepoint"):
            out[p.name] = []
        elif p.kind == "generic" and (re.search(r"\b(?:bpf_perf_event_data|tracepoint__|"
                                                r"bpf_raw_tracepoint_args|pt_regs)\b",
                                                p.ctx_type or "") or
                                      (p.ctx_type or "void").split() in (["void"],
                                                                        ["void", "*"])):
            # tracing contexts; no or `void *` context: runqlen's perf_event program,
            # funccount's tracepoint ones (packet programs name theirs)
            out[p.name] = []
    return out


def needed(rw, source: str) -> bool:
    """Whether a tracing function of ``source`` (rewritten, with ``rw``'s probes) may read
    through a kernel pointer (cheap text check)."""
    if not targets(rw):
        return False
    body = source.split('#line 1 "bpf_text"\n', 1)[-1]
    if "bpf_get_current_task" in body:
        return True
    for m in _ARROW_USE.finditer(body):
        if m.group(1) not in ("args", "ctx", "__ctx"):
            return True
    # pointers taken as probe arguments, or made from integers by a cast
    for m in re.finditer(r"__bcc_body_\w+\(([^)]*)\)", source):
        if "*" in m.group(1).partition(",")[2]:
            return True
    return re.search(r"\*\s*\)|PT_REGS_PARM|\bargs\s*\[", body) is not None


class FatalParse(Exception):
    """libclang stopped on a fatal diagnostic (its text): the reads were not rewritten."""


def apply(source: str, args: list[str], rw, seeds: dict | None = None,
          strict: bool = False) -> str:
    """``source`` with the kernel reads rewritten (unchanged if libclang is missing or the
    text does not parse, or :class:`FatalParse` with ``strict``).  ``rw``: the bcc
    rewriter's result, or the targets (:func:`targets`); ``seeds``: {function: {local:
    origin}} for locals holding probe arguments (trace's and argdist's C)."""
    ci = cindex()
    if ci is None:
        return source
    from . import cmacro
    out = source
    for _ in range(4):
        # with conditional directives, the preprocessor's skipped branches are recorded
        # (clang keeps them only in its detailed record): a macro defined once per branch
        # expands to the one clang took
        cond = re.search(r"^[ \t]*#[ \t]*(?:if|el)", source.split(_USER, 1)[-1], re.M)
        opts = ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD if cond else 0
        try:
            tu = ci.Index.create().parse(MAIN, args=[*args, "-x", "c"],
                                         unsaved_files=[(MAIN, source)], options=opts)
        except ci.TranslationUnitLoadError:
            if strict:      # (what a damaged precompiled header gives)
                raise FatalParse("libclang could not parse the text") from None
            return out
        fatal = [str(d) for d in tu.diagnostics if d.severity >= 4]
        if fatal and strict:
            raise FatalParse("\n".join(fatal))
        if fatal:                                             # leave it to clang
            return out
        p = _Pass(ci, tu, source, rw if isinstance(rw, dict) else targets(rw), seeds)
        out = p.run()
        if not p.in_macros:
            return out
        # reads written in the program's macros: expand those uses and look again
        # (offsets are bytes: latin-1 maps them one to one)
        raw = p.src.decode("latin-1")
        new = cmacro.expand_uses(raw, p.in_macros, max(0, raw.find(_USER)),
                                 p.skipped() if cond else None)
        if new is None:
            return out
        source = new.encode("latin-1").decode()
    return out


class _Pass:
    def __init__(self, ci, tu, source: str, targets: dict[str, list], seeds=None):
        self.ci, self.K = ci, ci.CursorKind
        self.tu, self.src = tu, source.encode()
        self.targets = targets
        self.seeds = seeds or {}
        self.var: dict = {}        # decl hash -> origin
        self.reads: dict = {}      # (start, end) -> (origin, cursor)
        self.helper_params: dict[str, list] = {}
        self._kid_cache: dict = {}
        import ctypes
        lib = ci.conf.lib
        self._getfileloc = lib.clang_getFileLocation    # not wrapped by the bindings
        self._getfileloc.argtypes = [ci.SourceLocation, ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.c_void_p, ctypes.c_void_p]
        self._getfileloc.restype = None
        self._getexploc = lib.clang_getExpansionLocation
        self._getexploc.argtypes = self._getfileloc.argtypes
        self._getexploc.restype = None
        self.in_macros: list[tuple[int, int]] = []   # where reads in macro bodies are used
        main = lib.clang_getFile(tu, MAIN)
        self._main = ctypes.cast(main, ctypes.c_void_p).value if main else None

    def skipped(self) -> list[tuple[int, int]] | None:
        """[start, end) byte offsets of the program's file the preprocessor skipped (the
        branches of #if/#else not taken), or None if clang did not say."""
        import ctypes
        ci = self.ci
        lib = ci.conf.lib

        class _RangeList(ctypes.Structure):
            _fields_ = [("count", ctypes.c_uint), ("ranges", ctypes.POINTER(ci.SourceRange))]
        get = lib.clang_getSkippedRanges
        get.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        get.restype = ctypes.POINTER(_RangeList)
        free = lib.clang_disposeSourceRangeList
        free.argtypes = [ctypes.POINTER(_RangeList)]
        free.restype = None
        if not self._main:
            return None
        got = get(self.tu.obj, self._main)
        if not got:
            return None
        try:
            rl = got.contents
            out = []
            for i in range(rl.count):
                r = rl.ranges[i]
                a, b = self._file_offset(r.start), self._file_offset(r.end)
                if 0 <= a <= b:
                    out.append((a, b))
            return out
        finally:
            free(got)

    # -- driver --------------------------------------------------------------------------
    def run(self) -> str:
        fns = self._functions()
        done = set()
        todo = [n for n in self.targets if n in fns]
        rounds = 0
        while todo and rounds < 4:
            for name in todo:
                self._function(fns[name], self.targets.get(name) or
                               self.helper_params.get(name, []), fns)
                done.add(name)
            todo = [n for n in self.helper_params if n in fns and n not in done]
            rounds += 1
        return self._render().decode()

    def _functions(self) -> dict:
        from .scan import functions
        text = self.src.decode()
        out = {}
        for fn in functions(text):
            off = len(text[:fn.body_start].encode())
            c = self.ci.Cursor.from_location(self.tu, self.tu.get_location(MAIN, off))
            for _ in range(64):
                if c is None or c.kind == self.K.FUNCTION_DECL:
                    break
                c = c.semantic_parent
            if c is not None and c.kind == self.K.FUNCTION_DECL and c.is_definition():
                out[c.spelling] = c
        return out

    def _function(self, fn, param_origins: list, fns) -> None:
        K = self.K
        params = [c for c in fn.get_children() if c.kind == K.PARM_DECL]
        for i, p in enumerate(params):
            if i == 0 and fn.spelling in self.targets:
                continue            # the context
            o = param_origins[i] if i < len(param_origins) else \
                (param_origins[-1] if fn.spelling in self.targets and param_origins else None)
            if fn.spelling in self.targets and o and self._is_ptr(p.type):
                ext = self._text(p.extent.start.offset, p.extent.end.offset)
                o = "u" if "__user" in ext else o
            if o and (self._is_ptr(p.type) or self._is_int(p.type)):
                self.var[p.hash] = o
        body = [c for c in fn.get_children() if c.kind == K.COMPOUND_STMT]
        if not body:
            return
        seeds = self.seeds.get(fn.spelling)
        if seeds:
            for x in body[0].walk_preorder():
                if x.kind == K.VAR_DECL and x.spelling in seeds:
                    self.var[x.hash] = seeds[x.spelling]
        for _ in range(3):               # locals take their origins from assignments
            before = dict(self.var)
            self._flow(body[0])
            if before == self.var:
                break
        self._collect(body[0], [], fns)

    # -- origins -------------------------------------------------------------------------
    def _kids(self, c) -> list:
        # each child list crosses ctypes once: the walks ask for them many times
        h = (c.hash, c.extent.start.offset, c.kind.value)
        kids = self._kid_cache.get(h)
        if kids is None:
            kids = self._kid_cache[h] = list(c.get_children())
        return kids

    def _is_ptr(self, t) -> bool:
        return t.get_canonical().kind == self.ci.TypeKind.POINTER

    def _is_int(self, t) -> bool:
        TK = self.ci.TypeKind
        return t.get_canonical().kind in (TK.LONG, TK.ULONG, TK.LONGLONG, TK.ULONGLONG)

    def _is_array(self, t) -> bool:
        TK = self.ci.TypeKind
        return t.get_canonical().kind in (TK.CONSTANTARRAY, TK.INCOMPLETEARRAY)

    def _text(self, a: int, b: int) -> str:
        return self.src[a:b].decode(errors="replace")

    def _strip(self, c):
        while c.kind in (self.K.UNEXPOSED_EXPR, self.K.PAREN_EXPR):
            ch = self._kids(c)
            if len(ch) != 1:
                break
            c = ch[0]
        return c

    def _unary_op(self, c) -> str:
        ch = self._kids(c)
        if not ch:
            return ""
        s, e = self._span(c)
        cs, ce = self._span(ch[-1])
        if cs > s:
            return self._text(s, cs).strip()
        return self._text(ce, e).strip() + "post"

    def origin(self, c):
        """None (safe or not a pointer), "k" (kernel) or "u" (user) for an expression."""
        K = self.K
        k = c.kind
        if k in (K.UNEXPOSED_EXPR, K.PAREN_EXPR):
            ch = self._kids(c)
            return self.origin(ch[0]) if len(ch) == 1 else None
        if k == K.CSTYLE_CAST_EXPR:
            ch = [x for x in c.get_children() if x.kind != K.TYPE_REF]
            if not ch:
                return None
            inner = ch[-1]
            if self._is_ptr(c.type) and not self._is_ptr(inner.type) and \
                    not self._is_array(inner.type):
                s = self._strip(inner)
                if s.kind == K.INTEGER_LITERAL:
                    return None
                return self.origin(inner) or "k"     # an integer made a pointer
            return self.origin(inner)
        if k == K.DECL_REF_EXPR:
            ref = c.referenced
            return self.var.get(ref.hash) if ref is not None else None
        if k in (K.MEMBER_REF_EXPR, K.ARRAY_SUBSCRIPT_EXPR) or \
                (k == K.UNARY_OPERATOR and self._unary_op(c) == "*"):
            root = self.path_origin(c)
            if self._is_array(c.type):
                return root            # decays to an address inside the same memory
            if self._is_ptr(c.type) or self._is_int(c.type):
                # a pointer (or a long holding one) loaded from memory
                return root or ("k" if self._is_ptr(c.type) else None)
            return None
        if k == K.UNARY_OPERATOR:
            op = self._unary_op(c)
            ch = self._kids(c)
            if op == "&" and ch:
                return self.path_origin(self._strip(ch[0]))
            return None
        if k == K.CALL_EXPR:
            if c.spelling == "bpf_get_current_task":
                return "k"
            ref = c.referenced
            if ref is not None and self._is_ptr(c.type) and ref.location.file is not None \
                    and ref.location.file.name == MAIN:
                # the program's own helper (tcpdrop's skb_to_tcphdr(skb)): a pointer it
                # computes from a kernel pointer points into kernel memory
                return next((o for o in map(self.origin, c.get_arguments()) if o), None)
            return None
        if k == K.BINARY_OPERATOR:
            ch = self._kids(c)
            if len(ch) == 2 and c.binary_operator.name in ("Add", "Sub"):
                for x in ch:
                    if self._is_ptr(x.type) or self._is_array(x.type):
                        return self.origin(x)
                if self._is_int(c.type):
                    return self.origin(ch[0]) or self.origin(ch[1])
            return None
        if k == K.CONDITIONAL_OPERATOR:
            ch = self._kids(c)
            return next((o for o in map(self.origin, ch[1:]) if o), None)
        return None

    def path_origin(self, c):
        """The origin of the memory an lvalue path designates (None: safe memory)."""
        K = self.K
        c = self._strip(c)
        k = c.kind
        if k == K.MEMBER_REF_EXPR:
            ch = self._kids(c)
            if not ch:
                return None
            if self._arrow(c, ch[0]):
                return self.origin(ch[0])
            return self.path_origin(ch[0])
        if k == K.ARRAY_SUBSCRIPT_EXPR:
            ch = self._kids(c)
            if len(ch) != 2:
                return None
            base = self._strip(ch[0])
            if self._is_array(base.type):
                return self.path_origin(base)
            return self.origin(ch[0])
        if k == K.UNARY_OPERATOR and self._unary_op(c) == "*":
            ch = self._kids(c)
            return self.origin(ch[0]) if ch else None
        return None

    def _arrow(self, member, base) -> bool:
        # the base's type says it (also inside a macro's expansion, which has no text)
        t = base.type.get_canonical().kind
        if t == self.ci.TypeKind.POINTER or self._is_array(base.type):
            return True
        if t == self.ci.TypeKind.RECORD:
            return False
        gap = self._text(self._span(base)[1], self._span(member)[1])
        return gap.lstrip().startswith("->") or (
            "->" in gap and "." not in gap.split("->")[0])

    # -- data flow into locals -----------------------------------------------------------
    def _flow(self, c) -> None:
        K = self.K
        for x in c.walk_preorder():
            if x.kind == K.VAR_DECL and (self._is_ptr(x.type) or self._is_int(x.type)):
                init = [y for y in x.get_children() if y.kind not in (K.TYPE_REF,)]
                if init:
                    o = self.origin(init[-1])
                    if o and x.hash not in self.var:
                        self.var[x.hash] = o
            elif x.kind == K.BINARY_OPERATOR and x.binary_operator.name == "Assign":
                ch = self._kids(x)
                if len(ch) == 2:
                    lhs = self._strip(ch[0])
                    if lhs.kind == K.DECL_REF_EXPR and lhs.referenced is not None:
                        o = self.origin(ch[1])
                        h = lhs.referenced.hash
                        if o and h not in self.var and (self._is_ptr(lhs.type) or
                                                         self._is_int(lhs.type)):
                            self.var[h] = o

    # -- reads -------------------------------------------------------------------------
    def _collect(self, c, stack: list, fns) -> None:
        K = self.K
        k = c.kind
        if k == K.CALL_EXPR:
            ref = c.referenced
            name = ref.spelling if ref is not None else ""
            if name in fns and name not in self.targets:
                args = list(c.get_arguments())
                cur = self.helper_params.setdefault(name, [None] * len(args))
                for i, a in enumerate(args):
                    if i < len(cur) and not cur[i]:
                        cur[i] = self.origin(a)
        if k in (K.MEMBER_REF_EXPR, K.ARRAY_SUBSCRIPT_EXPR, K.UNARY_OPERATOR):
            if self._is_path(c) and self._is_read(c, stack):
                o = self.path_origin(c)
                if o and self._spelled_here(c):
                    key = self._span(c)
                    self.reads.setdefault(key, (o, c))
                elif o:
                    ext = c.extent
                    a, b = self._file_offset(ext.start, True), self._file_offset(ext.end, True)
                    if 0 <= a <= b:
                        self.in_macros.append((a, b))
        stack.append(c)
        for ch in self._kids(c):
            self._collect(ch, stack, fns)
        stack.pop()

    def _is_path(self, c) -> bool:
        if c.kind == self.K.UNARY_OPERATOR:
            return self._unary_op(c) == "*"
        return True

    def _is_read(self, c, stack: list) -> bool:
        K = self.K
        if self._is_array(c.type):
            return False                     # decays to its address
        if c.type.get_canonical().kind == self.ci.TypeKind.FUNCTIONPROTO:
            return False
        i, child = len(stack) - 1, c
        while i >= 0 and stack[i].kind == K.PAREN_EXPR:
            child, i = stack[i], i - 1
        if i < 0:
            return True
        p = stack[i]
        pk = p.kind
        if pk == K.MEMBER_REF_EXPR:
            ch = self._kids(p)
            return bool(ch) and self._arrow(p, ch[0])   # p.f extends the path
        if pk == K.ARRAY_SUBSCRIPT_EXPR:
            return False if self._is_array(c.type) else True
        if pk == K.UNARY_OPERATOR:
            op = self._unary_op(p)
            return op not in ("&", "++", "--", "++post", "--post")
        if pk == K.CXX_UNARY_EXPR:
            return False                     # sizeof/alignof do not evaluate
        if pk in (K.BINARY_OPERATOR, K.COMPOUND_ASSIGNMENT_OPERATOR):
            ch = self._kids(p)
            # the target, told by node: inside a macro every span is the same place
            if p.binary_operator.is_assignment and ch and \
                    self._strip(ch[0]) == self._strip(child):
                return False
        return True

    def _span(self, c) -> tuple[int, int]:
        """Where a node is written in the file: for a node inside a macro's argument, where
        the argument is (``ntohs(sk->x)``); inside a macro's body, the macro call (one
        place for many nodes, which _spelled_here rejects); (-1, -1) elsewhere."""
        h = (c.hash, c.kind.value, "span")
        got = self._kid_cache.get(h)
        if got is None:
            ext = c.extent
            got = (self._file_offset(ext.start), self._file_offset(ext.end))
            if got[0] < 0 or got[1] < 0:
                got = (-1, -1)
            self._kid_cache[h] = got
        return got

    def _file_offset(self, loc, expansion: bool = False) -> int:
        """The offset in the file (-1: elsewhere); of the outermost macro use for a place
        inside a macro's expansion when ``expansion``."""
        from ctypes import byref, c_uint, c_void_p
        f, line, col, off = c_void_p(), c_uint(), c_uint(), c_uint()
        get = self._getexploc if expansion else self._getfileloc
        get(loc, byref(f), byref(line), byref(col), byref(off))
        return off.value if f.value == self._main else -1

    def _spelled_here(self, c) -> bool:
        """Whether the node is written in the file (not inside a macro's expansion)."""
        s, e = self._span(c)
        if s < 0 or e <= s:
            return False
        text = self._text(s, e).rstrip()
        if c.kind == self.K.MEMBER_REF_EXPR:
            # `inet->inet_rcv_saddr` ends in a macro naming a member path: still the
            # user's text, re-expanded alike in the read; a macro call's `)` is not
            return re.search(r"(?:->|\.)\s*[A-Za-z_]\w*$", text) is not None
        if c.kind == self.K.ARRAY_SUBSCRIPT_EXPR:
            return text.endswith("]")
        return text.startswith("*")

    # -- output ----------------------------------------------------------------------------
    def _render(self) -> bytes:
        items = sorted(self.reads.items(), key=lambda kv: (kv[0][0], -kv[0][1]))
        # drop reads that straddle another's bounds (cannot be nested textually)
        tree: list = []
        stack: list = []
        for (s, e), (o, c) in items:
            while stack and stack[-1]["e"] <= s:
                stack.pop()
            node = {"s": s, "e": e, "o": o, "c": c, "kids": []}
            if stack:
                if e > stack[-1]["e"]:
                    continue
                stack[-1]["kids"].append(node)
            else:
                tree.append(node)
            stack.append(node)
        self._n = 0
        return self._splice(0, len(self.src), tree)

    def _splice(self, s: int, e: int, nodes: list) -> bytes:
        out, pos = [], s
        for n in nodes:
            out += [self.src[pos:n["s"]], self._read(n)]
            pos = n["e"]
        out.append(self.src[pos:e])
        return b"".join(out)

    def _read(self, n) -> bytes:
        c = n["c"]
        inner = self._splice(n["s"], n["e"], n["kids"]).decode()
        region = self._text(n["s"], n["e"])
        orig = " ".join(region.split())
        inner = " ".join(inner.split("\n"))
        # the read is one line: the newlines it replaced follow it, so lines stay put
        tail = "\n" * region.count("\n")
        helper = {"u": "bpf_probe_read_user", "a": "__bcc_probe_read_any"}.get(
            n["o"], "bpf_probe_read_kernel")
        self._n += 1
        v = f"__pybpf_kr{self._n}"
        ref = c.referenced if c.kind == self.K.MEMBER_REF_EXPR else None
        if ref is not None and ref.kind == self.K.FIELD_DECL and ref.is_bitfield():
            ch = self._kids(c)
            bs, be = self._span(ch[0])
            base = self._splice(bs, be, [k for k in n["kids"] if k["e"] <= be]).decode()
            ptr = base if self._arrow(c, ch[0]) else f"&({base})"
            return (f"((unsigned long long)BPF_CORE_READ_BITFIELD_PROBED(({ptr}), "
                    f"{c.spelling})){tail}").encode()
        return (f"({{ __typeof_unqual__({orig}) {v}; {helper}(&{v}, sizeof({v}), "
                f"&({inner})); {v}; }}){tail}").encode()
