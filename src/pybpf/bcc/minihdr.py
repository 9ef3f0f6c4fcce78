"""A vmlinux.h cut down to the types one program uses, for the first compile on a kernel.

The full header (every BTF type, ~3 MB of C) costs a second to generate in Python and
clang another to parse or precompile; a program names a few dozen kernel types.  This
header declares the types the text (and pybpf's/libbpf's headers) name, what they embed,
and, behind a pointer, the definition of a struct only where the program's text names the
member that points to it (``t->real_parent->tgid`` defines what ``real_parent`` points to);
other pointed-to structs are only declared.  Types are decoded lazily, so most of the BTF
is never decoded.  If a program needs more than this guesses, its compile fails and the
caller falls back to the full header (:func:`pybpf.bcc.prelude.compile`).
"""

from __future__ import annotations

import os
import re
import sys
from array import array

from ..btf import cformat
from ..btf.types import Kind

_IDENT = re.compile(r"[A-Za-z_]\w*")
_LIBBPF = ("bpf_helpers.h", "bpf_helper_defs.h", "bpf_tracing.h", "bpf_core_read.h",
           "bpf_endian.h", "usdt.bpf.h")
_NAMED = frozenset(int(k) for k in (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64,
                                     Kind.TYPEDEF, Kind.FWD))
_ENUMS = frozenset((int(Kind.ENUM), int(Kind.ENUM64)))
_RECORD = frozenset((int(Kind.STRUCT), int(Kind.UNION)))
_TAGGED = frozenset((int(Kind.STRUCT), int(Kind.UNION), int(Kind.ENUM), int(Kind.ENUM64)))
_ENUM_RE = re.compile(b"[%c%c]" % (int(Kind.ENUM), int(Kind.ENUM64)))
_ENUM = int(Kind.ENUM)
_PTR = int(Kind.PTR)
_ARRAY = int(Kind.ARRAY)
_FUNC_PROTO = int(Kind.FUNC_PROTO)
_FOLLOW = frozenset(int(k) for k in (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE,
                                     Kind.RESTRICT, Kind.TYPE_TAG))


def identifiers(text: str) -> set:
    return set(_IDENT.findall(text))


def header_identifiers(includes) -> set:
    """Identifiers of the headers every bcc compile includes (pybpf's own, in
    ``includes``, and libbpf's)."""
    out: set = set()
    dirs = [os.path.abspath(i) for i in includes]
    for d in dirs:
        for name in os.listdir(d) if os.path.isdir(d) else ():
            if name.endswith(".h"):
                out |= _read_idents(os.path.join(d, name))
    for d in dirs + ["/usr/include"]:
        for name in _LIBBPF:
            out |= _read_idents(os.path.join(d, "bpf", name))
    return out


def _read_idents(path: str) -> set:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return identifiers(f.read())
    except OSError:
        return set()


def _kinds(spec) -> bytes:
    """Kind of every type (index = id - start id), from the raw type headers: no decoding
    (the kind is the low 5 bits of the info word's top byte, little-endian BTF)."""
    data = spec._data
    if sys.byteorder != "little":
        raise ValueError("the kind scan reads little-endian BTF")
    return bytes([data[off + 7] & 0x1F for off in spec._offs])


class KernelTags:
    """Whether vmlinux.h would define a struct/union/enum tag, answered from the BTF
    without generating it (the few names a program defines itself are asked)."""

    def __init__(self, spec):
        self.spec = spec

    def __contains__(self, name) -> bool:
        spec = self.spec
        return any(int(spec[t].kind) in _TAGGED for t in spec.find(name))


def _string_offsets(spec, names: set) -> set:
    """Offsets of the strings in ``names`` in the spec's string table (one pass over the
    raw table; decoding every string into the spec's cache costs several times more)."""
    want = {x.encode() for x in names}
    out = set()
    pos = spec._str_base
    for piece in spec._strings.split(b"\0"):
        if piece in want:
            out.add(pos)
        pos += len(piece) + 1
    return out


def roots(spec, names: set, members: set) -> tuple[list[int], bytearray]:
    """(type ids the header must define, which types others refer to): the named types
    and enumerators in ``names``, and the structs pointed to by members in ``members``."""
    n = len(spec)
    start = spec.start_id
    kinds = _kinds(spec)
    offs, name_offs = spec._offs, spec._name_offs
    hits = _string_offsets(spec, names)
    want = set()
    data = spec._data
    for m in _ENUM_RE.finditer(kinds):
        i = m.start()
        off = offs[i]
        # enumerators: (name, value) u32 pairs (enum64: name, lo, hi) after the header
        vlen = int.from_bytes(data[off + 4:off + 6], "little")
        step = 2 if kinds[i] == _ENUM else 3
        vals = array("I", data[off + 12:off + 12 + 4 * step * vlen])[::step]
        if name_offs[i] in hits or any(v in hits for v in vals):
            want.add(start + i)
    for i, no in enumerate(name_offs):
        if no in hits and kinds[i] in _NAMED:
            want.add(start + i)
    ref = bytearray(n)
    full = bytearray(n)
    seen = set()
    stack = [(tid, False, False) for tid in want]
    while stack:
        item = stack.pop()
        tid, through_ptr, expand = item
        if tid == 0 or item in seen:
            continue
        seen.add(item)
        t = spec[tid]
        k = int(t.kind)
        if k == _PTR:
            ref[t.type] = 1
            stack.append((t.type, True, expand))
        elif k in _FOLLOW:
            ref[t.type] = 1
            stack.append((t.type, through_ptr, expand))
        elif k == _ARRAY:
            ref[t.type] = ref[t.index_type] = 1
            stack.append((t.type, through_ptr, expand))
        elif k in _RECORD:
            if through_ptr and t.name:
                if not expand:
                    continue            # declared only
                want.add(tid)
            if full[tid]:
                continue
            full[tid] = 1
            for m in t.members:
                ref[m.type] = 1
                stack.append((m.type, False, bool(m.name) and m.name in members))
        elif k == _FUNC_PROTO:
            ref[t.return_type] = 1
            stack.append((t.return_type, through_ptr, False))
            for p in t.params:
                ref[p.type] = 1
                stack.append((p.type, through_ptr, False))
    return sorted(want), ref


def generate(spec, text: str, includes, extra=(), cache=None) -> str:
    """vmlinux.h for ``text`` (bcc C after the rewrite); ``extra`` names more roots.
    With ``cache``, kept per kernel and set of names: a text that differs only in
    numbers or comments (a tool's substituted PID filter) reuses it."""
    prog = identifiers(text)
    names = prog | header_identifiers(includes) | set(extra)
    key = None
    if cache is not None:
        from ..cache import key_of
        from ..codeid import code_identity      # a header from older code misses
        key = key_of("pybpf-minihdr-1", code_identity(), spec.identity,
                     " ".join(sorted(names)), " ".join(sorted(prog)))
        hit = cache.get(key)
        if hit is not None:
            return hit.decode()
    want, ref = roots(spec, names, prog)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        out = cformat._Writer(spec, lazy=True).run(want, ref)
    finally:
        sys.setrecursionlimit(old)
    if key is not None:
        cache.put(key, out.encode())
    return out
