"""BTF -> C: generate ``vmlinux.h`` (every type of a Spec as C declarations) in Python.

Types are emitted in dependency order: a struct that is only reached through pointers
gets a forward declaration, one that is embedded is defined first.  Layout is checked
against the BTF offsets: unnamed bit-field padding is inserted where natural C layout
would place a member elsewhere, ``packed`` where offsets are not naturally aligned and
``mode`` where an enum's size is not what C would choose.  Duplicate names get
``___N`` suffixes in the order names are first printed, as bpftool does, so programs see
the same type names with either header.
"""

from __future__ import annotations

import os
import sys

from .types import Kind

from ..kernelid import HEADER_GENERATOR_VERSION as GENERATOR_VERSION  # noqa: F401
from ..kernelid import header_key, kernel_btf_identity  # noqa: F401 (re-exported)

_PROLOGUE = """#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

"""
_EPILOGUE = """#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""

# integer type names that some compilers know but clang for BPF does not
_MISSING_INTS = {"__Poly8_t": "unsigned char", "__Poly16_t": "unsigned short",
                 "__Poly64_t": "unsigned long long", "__Poly128_t": "unsigned __int128"}
_ENUM_MODE = {1: "QI", 2: "HI", 4: "SI", 8: "DI"}
_PADS = ((64, "long"), (32, "int"), (16, "short"), (8, "char"))
_QUAL = {Kind.CONST: "const", Kind.VOLATILE: "volatile", Kind.RESTRICT: "restrict"}

# Speed: the hot paths test kinds against module-level ints and frozensets; looking up
# Kind.X (an enum class attribute) and building a tuple of them on every test dominated.
(_UNKN, _INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF, _FUNC_PROTO, _DATASEC,
 _FLOAT, _ENUM64) = (int(k) for k in (
    Kind.UNKN, Kind.INT, Kind.PTR, Kind.ARRAY, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.FWD,
    Kind.TYPEDEF, Kind.FUNC_PROTO, Kind.DATASEC, Kind.FLOAT, Kind.ENUM64))
_MODS = frozenset((Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG))
_RECORD = frozenset((_STRUCT, _UNION))
_ENUMS = frozenset((_ENUM, _ENUM64))
_SIZED = frozenset((_INT, _STRUCT, _UNION, _ENUM, _ENUM64, _FLOAT))
_SCALAR = frozenset((_INT, _FLOAT, _UNKN))
_PTR_ARRAY_MOD = _MODS | {_PTR, _ARRAY}
_NUMERIC = frozenset((_INT, _FLOAT, _ENUM, _ENUM64))
_ALIASES = _MODS | {_ARRAY, _TYPEDEF}
_ONE_REF = frozenset(Kind) - {_INT, _ENUM, _ENUM64, _FWD, _FLOAT, _UNKN,  # t.type only
                              _STRUCT, _UNION, _FUNC_PROTO, _ARRAY, _DATASEC}

# order/emit states
_TODO, _BUSY, _DONE = 0, 1, 2


def generate_header(spec) -> str:
    """The C header declaring every type of ``spec`` (what bpftool's ``format c`` gives)."""
    old = sys.getrecursionlimit()
    # dependency walks recurse once per nesting level; kernel types nest a few hundred deep
    sys.setrecursionlimit(max(old, 20000))
    try:
        return _Writer(spec).run()
    finally:
        sys.setrecursionlimit(old)


def vmlinux_h(cache, spec=None) -> str:
    """Path of vmlinux.h for the running kernel (or ``spec``), generated once per BTF."""
    if spec is None:
        from .kernel import load_vmlinux
        identity = kernel_btf_identity(cache)
    else:
        identity = spec.identity
    d = cache.dir_for(header_key(identity))
    path = os.path.join(d, "vmlinux.h")
    if cache.sealed_ok(path):       # a truncated or damaged header is regenerated
        return path
    if spec is None:
        spec = load_vmlinux()
    cache.write_sealed(path, generate_header(spec).encode())
    return path


class _Writer:
    """One generation run; holds the per-run state (orders, names, layouts)."""

    def __init__(self, spec, lazy: bool = False):
        n = len(spec)
        # lazy: types are decoded as reached (spec[tid]), for a header of a few roots
        self.types = spec if lazy else spec.types()
        self.n = n
        self.order_state = bytearray(n)
        self.emit_state = bytearray(n)
        self.fwd_done = bytearray(n)
        self.referenced = bytearray(n)
        self.order_state[0] = self.emit_state[0] = _DONE  # void needs no declaration
        self.names: dict[int, str] = {}
        self.tag_counts: dict[str, int] = {}
        self.ident_counts: dict[str, int] = {}
        self.aligns: dict[int, int] = {}
        self.packed: dict[int, bool] = {}
        self.natural_aligns: dict[int, int] = {}
        self.out: list[str] = []
        self.queue: list[int] = []

    def run(self, roots=None, referenced=None) -> str:
        """The header; with ``roots``, only what those type ids need (``referenced`` then
        marks the types others refer to, as _mark_referenced would over the whole spec)."""
        if referenced is None:
            self._mark_referenced()
        else:
            self.referenced = referenced
        out = self.out
        out.append(_PROLOGUE)
        order_state = self.order_state
        for tid in (range(1, self.n) if roots is None else roots):
            if order_state[tid] == _DONE:
                continue  # already ordered: _order would queue nothing
            self.queue = []
            self._order(tid, False)
            for q in self.queue:
                self._emit(q, 0)
        out.append(_EPILOGUE)
        return "".join(out)

    # -- which types are used by others (anonymous enums nobody uses are top level) ---
    def _mark_referenced(self) -> None:
        ref = self.referenced
        for t in self.types[1:]:
            k = t.kind
            if k in _ONE_REF:
                ref[t.type] = 1
            elif k in _RECORD:
                for m in t.members:
                    ref[m.type] = 1
            elif k == _FUNC_PROTO:
                ref[t.return_type] = 1
                for p in t.params:
                    ref[p.type] = 1
            elif k == _ARRAY:
                ref[t.type] = ref[t.index_type] = 1
            elif k == _DATASEC:
                for v in t.vars:
                    ref[v.type] = 1

    # -- ordering: what must be defined before what ---------------------------------
    # (Speed: loops test a type's state before recursing into it; a done type would
    # return True at once, which is what the loops then assume.)
    def _order(self, tid: int, through_ptr: bool) -> bool:
        """Queue the definitions ``tid`` needs; True if ``tid`` needs its full definition
        (a 'strong' reference), False if a declaration suffices."""
        state = self.order_state
        st = state[tid]
        if st == _DONE:
            return True
        t = self.types[tid]
        k = t.kind
        if st == _BUSY:
            # a cycle is fine only through a pointer to a named struct/union
            if k in _RECORD and through_ptr and t.name:
                return False
            raise ValueError(f"BTF type [{tid}] is part of a cycle C cannot declare")
        if k == _FUNC_PROTO:
            rt = t.return_type
            strong = state[rt] == _DONE or self._order(rt, through_ptr)
            for p in t.params:
                pt = p.type
                if state[pt] == _DONE or self._order(pt, through_ptr):
                    strong = True
            return strong
        if k == _PTR:
            r = self._order(t.type, True)
            state[tid] = _DONE
            return r
        if k in _RECORD:
            if through_ptr and t.name:
                return False
            state[tid] = _BUSY
            for m in t.members:
                if state[m.type] != _DONE:
                    self._order(m.type, False)
            if t.name:
                self.queue.append(tid)
            state[tid] = _DONE
            return True
        if k in _MODS:
            return self._order(t.type, through_ptr)
        if k == _TYPEDEF:
            strong = self._order(t.type, through_ptr)
            if through_ptr and not strong:
                return False
            self.queue.append(tid)
            state[tid] = _DONE
            return True
        if k == _ARRAY:
            return self._order(t.type, False)
        if k in _SCALAR:
            state[tid] = _DONE
            return False
        if k in _ENUMS or k == _FWD:
            if t.name or not self.referenced[tid]:
                self.queue.append(tid)
            state[tid] = _DONE
            return True
        # FUNC, VAR, DATASEC, DECL_TAG: not declared in the header
        state[tid] = _DONE
        return False

    # -- emitting ---------------------------------------------------------------------
    def _emit(self, tid: int, container: int) -> None:
        """Write ``tid``'s definition (container == 0) or the forward declarations that
        a definition of ``container`` that mentions ``tid`` needs."""
        types, state = self.types, self.emit_state
        while True:  # pointers, arrays and modifiers just pass on to what they refer to
            st = state[tid]
            if st == _DONE:
                return
            t = types[tid]
            k = t.kind
            if st == _BUSY or k not in _PTR_ARRAY_MOD:
                break
            tid = t.type
        out = self.out
        if st == _BUSY:
            # referenced again while being defined: only a declaration can help
            if self.fwd_done[tid]:
                return
            if k in _RECORD:
                if tid == container or not t.name:
                    return
                out.append(f"{self._tag_kw(t)} {self._tag_name(tid)};\n\n")
                self.fwd_done[tid] = 1
            elif k == _TYPEDEF:
                # the typedef line itself serves pointers; embedding still waits
                if t.name != "__builtin_va_list":
                    out.append(self._typedef(tid, t) + ";\n\n")
                self.fwd_done[tid] = 1
            return
        if k in _RECORD:
            state[tid] = _BUSY
            if container == 0 or not t.name:
                # the definition will spell out members: declare what they point to
                inner = container if not t.name else tid
                for m in t.members:
                    if state[m.type] != _DONE:
                        self._emit(m.type, inner)
            elif not self.fwd_done[tid] and tid != container:
                out.append(f"{self._tag_kw(t)} {self._tag_name(tid)};\n\n")
                self.fwd_done[tid] = 1
            if container == 0:
                out.append(self._struct_def(tid, t, 0) + ";\n\n")
                state[tid] = _DONE
            else:
                state[tid] = _TODO
        elif k == _FUNC_PROTO:
            self._emit(t.return_type, container)
            for p in t.params:
                if state[p.type] != _DONE:
                    self._emit(p.type, container)
        elif k == _TYPEDEF:
            state[tid] = _BUSY
            self._emit(t.type, tid)
            if not self.fwd_done[tid] and t.name != "__builtin_va_list":
                out.append(self._typedef(tid, t) + ";\n\n")
            state[tid] = _DONE
        elif k in _ENUMS:
            if container == 0:
                out.append(self._enum_def(tid, t, 0) + ";\n\n")
            state[tid] = _DONE
        elif k == _INT:
            alias = _MISSING_INTS.get(t.name)
            if alias:
                out.append(f"typedef {alias} {t.name};\n\n")
            state[tid] = _DONE
        elif k == _FWD:
            out.append(f"{'union' if t.is_union else 'struct'} {t.name};\n\n")
            state[tid] = _DONE

    # -- names ------------------------------------------------------------------------
    def _unique(self, tid: int, counts: dict[str, int]) -> str:
        name = self.names.get(tid)
        if name is not None:
            return name
        t = self.types[tid]
        name = t.name
        if name and not (t.kind == _FWD or (t.kind == _ENUM and not t.values)):
            c = counts.get(name, 0) + 1
            counts[name] = c
            if c > 1:
                name = f"{name}___{c}"
        self.names[tid] = name
        return name

    def _tag_name(self, tid: int) -> str:
        return self._unique(tid, self.tag_counts)

    @staticmethod
    def _tag_kw(t) -> str:
        return "struct" if t.kind == _STRUCT else "union"

    # -- layout -----------------------------------------------------------------------
    def _size(self, tid: int) -> int:
        """Byte size of a type (as BTF says; what our C gives too)."""
        types = self.types
        for _ in range(256):
            t = types[tid]
            k = t.kind
            if k in _SIZED:
                return t.size
            if k == _PTR:
                return 8
            if k == _ARRAY:
                return t.nelems * self._size(t.type)
            if k == _TYPEDEF and t.name == "__builtin_va_list":
                return 8  # clang's own for BPF (a pointer), not the kernel's 24 bytes
            if k == _TYPEDEF or k in _MODS:
                tid = t.type
                continue
            return 0
        return 0

    def _align(self, tid: int) -> int:
        """Alignment clang (BPF target) gives the C we emit for ``tid``."""
        a = self.aligns.get(tid)
        if a is not None:
            return a
        t = self.types[tid]
        k = t.kind
        if k in _NUMERIC:
            a = max(1, t.size) if t.size <= 8 or k == _INT else 8  # __int128 is 16
        elif k == _PTR:
            a = 8
        elif k in _ALIASES:
            a = self._align(t.type)
        elif k in _RECORD:
            a = 1 if self._is_packed(tid) else self._natural_align(tid)
        else:
            a = 1
        self.aligns[tid] = a
        return a

    def _natural_align(self, tid: int) -> int:
        a = self.natural_aligns.get(tid)
        if a is not None:
            return a
        a = 1
        aligns = self.aligns
        for m in self.types[tid].members:
            if m.name or not m.bitfield_size:  # unnamed bit-fields do not align
                ma = aligns.get(m.type)
                if ma is None:
                    ma = self._align(m.type)
                if ma > a:
                    a = ma
        self.natural_aligns[tid] = a
        return a

    def _is_packed(self, tid: int) -> bool:
        """Whether the BTF layout needs ``__attribute__((packed))``: some member is
        not at a multiple of its alignment, or the size is not one of the struct's."""
        p = self.packed.get(tid)
        if p is not None:
            return p
        t = self.types[tid]
        p = False
        for m in t.members:
            if not m.bitfield_size and m.offset_bits % (8 * self._align(m.type)):
                p = True
                break
        if not p and t.size % self._natural_align(tid):
            p = True
        self.packed[tid] = p
        return p

    def _place(self, cur: int, m, packed: bool) -> int:
        """Bit offset where clang would put member ``m`` when the previous ends at cur."""
        if m.bitfield_size:
            if packed:
                return cur
            unit = 8 * self._align(m.type)
            if cur // unit != (cur + m.bitfield_size - 1) // unit:
                return -(-cur // unit) * unit
            return cur
        unit = 8 * (1 if packed else self._align(m.type))
        return -(-cur // unit) * unit

    @staticmethod
    def _pad(cur: int, end: int, ind: str, out: list[str], packed: bool) -> None:
        """Unnamed bit-fields filling bits [cur, end); they never change the alignment.

        Outside packed structs a full-width ``long: 64`` that would cross a 64-bit unit
        starts at the next one, so one of them also covers the hole before it.
        """
        while cur < end:
            for bits, name in _PADS:
                start = cur if packed else -(-cur // bits) * bits
                if start + bits <= end:
                    break
            else:
                bits, name, start = min(8 - cur % 8, end - cur), "char", cur
            out.append(f"\n{ind}{name}: {bits};")
            cur = start + bits

    # -- definitions ------------------------------------------------------------------
    def _struct_def(self, tid: int, t, lvl: int) -> str:
        is_struct = t.kind == _STRUCT
        head = self._tag_kw(t)
        if t.name:
            head += " " + self._tag_name(tid)
        packed = self._is_packed(tid)
        ind = "\t" * (lvl + 1)
        parts = [head, " {"]
        cur = 0
        for m in t.members:
            if is_struct:
                want = m.offset_bits
                if self._place(cur, m, packed) != want and cur < want:
                    self._pad(cur, want, ind, parts, packed)
                    cur = want
            line = self._decl(m.type, m.name, lvl + 1)
            if m.bitfield_size:
                parts.append(f"\n{ind}{line}: {m.bitfield_size};")
                end = m.offset_bits + m.bitfield_size
            else:
                parts.append(f"\n{ind}{line};")
                end = m.offset_bits + 8 * self._size(m.type)
            cur = max(cur, end) if not is_struct else end
        if is_struct:
            a = 8 * (1 if packed else self._natural_align(tid))
            if -(-cur // a) * a != 8 * t.size and cur < 8 * t.size:
                self._pad(cur, 8 * t.size, ind, parts, packed)
        if t.members or t.size:
            parts.append("\n" + "\t" * lvl + "}")
        else:
            parts.append("}")
        if packed:
            parts.append(" __attribute__((packed))")
        return "".join(parts)

    def _enum_def(self, tid: int, t, lvl: int) -> str:
        head = "enum"
        if t.name:
            head += " " + self._tag_name(tid)
        if not t.values:
            return head
        ind = "\t" * (lvl + 1)
        counts = self.ident_counts
        wide = t.kind == _ENUM64
        suffix = ("LL" if t.signed else "ULL") if wide else ""
        parts = [head, " {"]
        for v in t.values:
            c = counts.get(v.name, 0) + 1
            counts[v.name] = c
            name = f"{v.name}___{c}" if c > 1 else v.name
            parts.append(f"\n{ind}{name} = {v.value}{suffix},")
        parts.append("\n" + "\t" * lvl + "}")
        lo = min(v.value for v in t.values)
        hi = max(v.value for v in t.values)
        natural = 4 if (lo >= -(1 << 31) and hi < (1 << 31)) or (lo >= 0 and hi < (1 << 32)) \
            else 8
        if t.size != natural and t.size in _ENUM_MODE:
            parts.append(f" __attribute__((mode({_ENUM_MODE[t.size]})))")
        return "".join(parts)

    def _typedef(self, tid: int, t) -> str:
        name = self._unique(tid, self.ident_counts)
        return "typedef " + self._decl(t.type, name, 0)

    def _decl(self, tid: int, declarator: str, lvl: int) -> str:
        """C declaration of ``declarator`` with type ``tid`` (no trailing ';')."""
        types = self.types
        chain = []
        while True:
            t = types[tid]
            k = t.kind
            if k in _PTR_ARRAY_MOD:
                chain.append(t)
                tid = t.type
            elif k == _FUNC_PROTO:
                chain.append(t)
                tid = t.return_type
            else:
                break
        if not chain:  # the common case: a plain named type
            base = self._base(tid, t, lvl)
            return f"{base} {declarator}" if declarator else base
        # qualifiers that end the chain apply to the base type itself
        base_quals = []
        while chain and chain[-1].kind in _MODS:
            q = _QUAL.get(chain.pop().kind)
            if q and q not in base_quals:
                base_quals.insert(0, q)
        base = self._base(tid, types[tid], lvl)  # named first, as bpftool prints it
        d = declarator
        quals: list[str] = []
        after_ptr = False
        for t in chain:
            k = t.kind
            if k == _PTR:
                q = " ".join(quals)
                d = "*" + (q + (" " + d if d else "") if q else d)
                quals = []
                after_ptr = True
            elif k == _ARRAY:
                if after_ptr:
                    d = f"({d})"
                d = f"{d}[{t.nelems}]"
                after_ptr = False
            elif k == _FUNC_PROTO:
                if after_ptr:
                    d = f"({d})"
                d = f"{d}({self._params(t, lvl)})"
                quals = []
                after_ptr = False
            else:
                q = _QUAL.get(k)
                if q and q not in quals:
                    quals.append(q)
        # qualifiers on an array apply to its elements
        quals = [q for q in quals if q not in base_quals]
        prefix = " ".join(base_quals + quals)
        if prefix:
            base = f"{prefix} {base}"
        return f"{base} {d}" if d else base

    def _params(self, t, lvl: int) -> str:
        ps = t.params
        if not ps:
            return "void"
        out = []
        for i, p in enumerate(ps):
            if p.type == 0 and i == len(ps) - 1:
                out.append("...")
            else:
                out.append(self._decl(p.type, p.name, lvl))
        return ", ".join(out)

    def _base(self, tid: int, t, lvl: int) -> str:
        k = t.kind
        if k in _RECORD:
            if not t.name:
                return self._struct_def(tid, t, lvl)
            return f"{self._tag_kw(t)} {self._tag_name(tid)}"
        if k == _TYPEDEF:
            return self._unique(tid, self.ident_counts)
        if k == _INT or k == _FLOAT:
            return t.name
        if k == _UNKN:
            return "void"
        if k in _ENUMS:
            if not t.name:
                return self._enum_def(tid, t, lvl)
            return f"enum {self._tag_name(tid)}"
        if k == _FWD:
            return f"{'union' if t.is_union else 'struct'} {t.name}"
        raise ValueError(f"BTF type [{tid}] of kind {k.name} cannot be named in C")
