"""ctypes types from object BTF: what bcc's ``table.Key``/``table.Leaf`` and ``event()`` give.

Structs become ``ctypes.Structure`` subclasses with the BTF's member names and offsets
(padding made explicit), ``char[N]`` becomes ``c_char * N`` (reads as bytes, as in bcc),
pointers become ``c_ulonglong`` (bcc does the same: they are kernel addresses).
Members named by Python keywords (``from``, ``in``...) also read as ``from_``, ``in_``.

Beyond bcc (``bcc=False``, what ``pybpf.ctype()`` and typed maps and globals use): an
``__int128`` member reads and writes as one Python int (bcc gives two 64-bit halves, low
first), and a flexible array member (``T data[];``) gives the elements a decoded record
holds past the struct (:class:`pybpf.ctypes_record.FlexArray`).

A :class:`TypeTable` is the part of an object's BTF the tables and events use, exported as
plain tuples: BPF() caches it, so a warm start builds ctypes without parsing BTF.
"""

from __future__ import annotations

import ctypes

from .btf.kinds import Kind
from .ctypes_record import Alias, Bitfield, flexible, init_by_members, record_repr
from .errors import BTFError

_INTS = {(1, False): ctypes.c_uint8, (1, True): ctypes.c_int8,
         (2, False): ctypes.c_uint16, (2, True): ctypes.c_int16,
         (4, False): ctypes.c_uint32, (4, True): ctypes.c_int32,
         (8, False): ctypes.c_uint64, (8, True): ctypes.c_int64,
         # __int128: two 64-bit halves, low first (what bcc's Python gives for it)
         (16, False): ctypes.c_uint64 * 2, (16, True): ctypes.c_int64 * 2}
_NAMED = {"int": ctypes.c_int, "unsigned int": ctypes.c_uint, "long": ctypes.c_long,
          "long int": ctypes.c_long, "unsigned long": ctypes.c_ulong,
          "long unsigned int": ctypes.c_ulong, "long long": ctypes.c_longlong,
          "long long int": ctypes.c_longlong, "unsigned long long": ctypes.c_ulonglong,
          "long long unsigned int": ctypes.c_ulonglong, "short": ctypes.c_short,
          "short int": ctypes.c_short, "unsigned short": ctypes.c_ushort,
          "short unsigned int": ctypes.c_ushort, "_Bool": ctypes.c_bool}
_MAX_DEPTH = 64
_MODIFIERS = (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)
# Python's keywords (keyword.kwlist, without importing it): members so named get an alias
_KEYWORDS = frozenset(("False", "None", "True", "and", "as", "assert", "async", "await",
                       "break", "class", "continue", "def", "del", "elif", "else", "except",
                       "finally", "for", "from", "global", "if", "import", "in", "is",
                       "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
                       "while", "with", "yield"))


class Converter:
    """Converts BTF type ids of one spec to ctypes types, caching per id.  ``bcc=True``
    keeps bcc's conventions for ``__int128`` members and flexible arrays (see above)."""

    def __init__(self, spec, *, bcc: bool = False):
        self.spec = spec
        self.bcc = bcc
        self._done: dict[int, type] = {}

    def __call__(self, tid: int, _depth: int = 0) -> type:
        if tid in self._done:
            return self._done[tid]
        if _depth > _MAX_DEPTH:
            return ctypes.c_uint64
        t = self.spec[tid]
        k = t.kind
        if k in _MODIFIERS:
            r = self(t.type, _depth + 1)
        elif k == Kind.INT:
            signed = bool(t.encoding & 1)
            if t.size == 1 and (t.name == "char" or t.encoding & 2):   # char: bytes
                r = ctypes.c_char
            else:
                r = _NAMED.get(t.name) or _INTS.get((t.size, signed)) or ctypes.c_uint8 * t.size
        elif k == Kind.PTR:
            r = ctypes.c_ulonglong
        elif k in (Kind.ENUM, Kind.ENUM64):
            r = _INTS.get((t.size, t.signed), ctypes.c_uint32)
        elif k == Kind.FLOAT:
            r = {4: ctypes.c_float, 8: ctypes.c_double}.get(t.size, ctypes.c_uint8 * t.size)
        elif k == Kind.ARRAY:
            r = self(t.type, _depth + 1) * t.nelems
        elif k in (Kind.STRUCT, Kind.UNION):
            r = self._record(tid, t, _depth)
        elif k == Kind.VOID:
            r = ctypes.c_uint8 * 0
        else:
            r = ctypes.c_uint8 * max(self.spec.sizeof(tid), 0)
        self._done[tid] = r
        return r

    def _record(self, tid: int, t, depth: int) -> type:
        base = ctypes.Structure if t.kind == Kind.STRUCT else ctypes.Union
        ns: dict = {"_pack_": 1}
        cls = type(t.name or f"anon_{tid}", (base,), ns)
        self._done[tid] = cls          # self-references through pointers are plain ints
        fields: list[tuple] = []
        anon: list[str] = []
        names: list[str] = []          # the members in C's order, bitfields included
        pos = 0                        # bytes laid out so far (structs only)
        members = list(t.members)
        i = 0
        while i < len(members):
            m = members[i]
            if m.bitfield_size:
                # a run of bitfields: raw bytes plus a property per field, so the layout
                # is the compiler's exactly (ctypes' own bitfields follow other rules)
                j = i
                while j < len(members) and members[j].bitfield_size and \
                        (base is ctypes.Structure or j == i):
                    j += 1
                run = members[i:j]
                b0 = min(x.offset_bits for x in run) // 8
                b1 = max((x.offset_bits + x.bitfield_size + 7) // 8 for x in run)
                store = f"__bits{i}"
                if base is ctypes.Structure:
                    if b0 > pos:
                        fields.append((f"__pad{i}", ctypes.c_uint8 * (b0 - pos)))
                    pos = b1
                fields.append((store, ctypes.c_uint8 * (b1 - b0)))
                for k, x in enumerate(run):
                    if x.name:
                        names.append(x.name)
                        setattr(cls, x.name, Bitfield(store, x.offset_bits - b0 * 8,
                                                      x.bitfield_size,
                                                      _is_signed(self.spec, x.type)))
                i = j
                continue
            name = m.name or f"__anon{i}"
            names.append(name)
            if not m.name:
                anon.append(name)
            wide = self._int128(m.type) if m.name and not self.bcc else None
            if wide is not None:
                # one Python int over the member's 16 bytes (a 128-bit "bitfield")
                name = f"__int128_{m.name}"
                setattr(cls, m.name, Bitfield(name, 0, 128, wide))
            mt = ctypes.c_uint8 * 16 if wide is not None else self(m.type, depth + 1)
            if base is ctypes.Structure:
                off_byte = m.offset_bits // 8
                if off_byte > pos:
                    fields.append((f"__pad{i}", ctypes.c_uint8 * (off_byte - pos)))
                    pos = off_byte
                pos = off_byte + ctypes.sizeof(mt)
            fields.append((name, mt))
            i += 1
        if base is ctypes.Structure and t.size > pos:
            fields.append(("__pad_end", ctypes.c_uint8 * (t.size - pos)))
        if anon:
            cls._anonymous_ = anon
        cls._members_ = names
        if len(names) != len([f for f in fields if not f[0].startswith("__pad")]):
            # bitfields are properties over raw bytes: positional values go to the
            # members in C's order, as a C initializer (and bcc's ctypes) would put them
            cls.__init__ = init_by_members
        try:
            cls._fields_ = fields
        except (TypeError, ValueError, OverflowError):
            cls = ctypes.c_uint8 * t.size
        if base is ctypes.Structure and ctypes.sizeof(cls) != t.size:
            cls = ctypes.c_uint8 * t.size   # members overlap or overrun: malformed BTF
        if base is ctypes.Union and ctypes.sizeof(cls) < t.size:
            # a union's size may exceed its largest member (alignment): keep the BTF's
            cls = type(cls.__name__, (ctypes.Union,), {"_pack_": 1, "_fields_": [
                ("__u", cls), ("__size", ctypes.c_uint8 * t.size)], "_anonymous_": ["__u"]})
        if not issubclass(cls, (ctypes.Structure, ctypes.Union)):
            return cls
        if not self.bcc:
            cls.__repr__ = record_repr
        for n in names:
            if n in _KEYWORDS and n + "_" not in names:
                setattr(cls, n + "_", Alias(n))
        last = members[-1].name if members else ""
        if base is ctypes.Structure and not self.bcc and last and \
                any(f[0] == last for f in fields) and self._flex(members[-1].type):
            flexible(cls, last)
        return cls

    def _int128(self, tid: int):
        """None, or whether ``tid`` is a signed 128-bit int."""
        t = self.spec[self.spec.resolve(tid)]
        if t.kind == Kind.INT and t.size == 16:
            return bool(t.encoding & 1)
        return None

    def _flex(self, tid: int) -> bool:
        t = self.spec[self.spec.resolve(tid)]
        return t.kind == Kind.ARRAY and t.nelems == 0


def _is_signed(spec, tid: int) -> bool:
    t = spec[spec.resolve(tid)]
    return bool(getattr(t, "encoding", 0) & 1) or bool(getattr(t, "signed", False))


def export_types(spec, roots) -> dict[int, tuple]:
    """The types reachable from ``roots`` in ``spec``, as plain tuples for a cache:
    id -> (kind, name, type, size, encoding, signed, nelems, members, sizeof)."""
    out: dict[int, tuple] = {}
    todo = [r for r in roots if r]
    while todo:
        tid = todo.pop()
        if tid in out or len(out) > 10000:
            continue
        t = spec[tid]
        members = tuple((m.name, m.type, m.offset_bits, m.bitfield_size)
                        for m in getattr(t, "members", ()) or ())
        ref = getattr(t, "type", 0) if t.kind in _MODIFIERS + (Kind.ARRAY,) else 0
        try:
            size = spec.sizeof(tid)
        except BTFError:       # FUNC_PROTO and friends: never sized by the converter
            size = 0
        out[tid] = (int(t.kind), t.name or "", ref, getattr(t, "size", 0) or 0,
                    getattr(t, "encoding", 0), bool(getattr(t, "signed", False)),
                    getattr(t, "nelems", 0), members, size)
        todo.extend(m[1] for m in members)
        if ref:
            todo.append(ref)
    return out


class _T:
    __slots__ = ("kind", "name", "type", "size", "encoding", "signed", "nelems", "members")


class _M:
    __slots__ = ("name", "type", "offset_bits", "bitfield_size")

    def __init__(self, name, type_, offset_bits, bitfield_size):
        self.name, self.type = name, type_
        self.offset_bits, self.bitfield_size = offset_bits, bitfield_size


class TypeTable:
    """Enough of a BTF spec for :class:`Converter`, rebuilt from :func:`export_types`."""

    def __init__(self, table: dict[int, tuple]):
        self._raw = table
        self._objs: dict[int, _T] = {}

    def __getitem__(self, tid: int) -> _T:
        t = self._objs.get(tid)
        if t is None:
            kind, name, ref, size, enc, signed, nelems, members, _ = self._raw[tid]
            t = _T()
            t.kind, t.name, t.type, t.size = Kind(kind), name, ref, size
            t.encoding, t.signed, t.nelems = enc, signed, nelems
            t.members = [_M(*m) for m in members]
            self._objs[tid] = t
        return t

    def sizeof(self, tid: int) -> int:
        return self._raw[tid][8]

    def resolve(self, tid: int) -> int:
        for _ in range(_MAX_DEPTH):
            t = self[tid]
            if t.kind not in _MODIFIERS:
                return tid
            tid = t.type
        return tid
