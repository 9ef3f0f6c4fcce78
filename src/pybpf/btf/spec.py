"""BTF blobs: parse (lazily: one pass records where each type starts, types decode on
access), look up by name, and marshal back to bytes the kernel accepts."""

from __future__ import annotations

import bisect
import gc
import struct
from array import array
from itertools import accumulate

from .._hash import blake2b
from ..errors import BTFError
from . import types as T
from .types import Kind

MAGIC = 0xEB9F
_HDR = struct.Struct("<HBBIIIII")   # magic, version, flags, hdr_len, type_off/len, str_off/len
_TYPE = struct.Struct("<III")        # name_off, info, size/type
_MAX_VLEN = 0xFFFF
_MAX_DEPTH = 64

# bytes of per-kind data following the 12-byte common header: fixed + per-vlen-item
_TAIL = {Kind.INT: (4, 0), Kind.ARRAY: (12, 0), Kind.STRUCT: (0, 12), Kind.UNION: (0, 12),
         Kind.ENUM: (0, 8), Kind.FUNC_PROTO: (0, 8), Kind.VAR: (4, 0), Kind.DATASEC: (0, 12),
         Kind.DECL_TAG: (4, 0), Kind.ENUM64: (0, 12)}


_unpack_type = _TYPE.unpack_from
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U32X2 = struct.Struct("<II")
_U32X3 = struct.Struct("<III")
_U32_I32 = struct.Struct("<Ii")


class _StringCache(dict):
    """A string table's strings by (absolute) offset; a miss decodes (or rejects) the
    string and remembers it.  Decoders index it directly (``strs[off]``), a C-level
    lookup when the string is known."""

    __slots__ = ("raw", "start", "base")

    def __init__(self, raw: bytes, start: int, base: Spec | None):
        super().__init__()
        self.raw, self.start, self.base = raw, start, base

    def __missing__(self, off: int) -> str:
        if self.base is not None and off < self.start:
            return self.base.string_at(off)
        raw = self.raw
        off -= self.start
        if not 0 <= off < len(raw):
            raise BTFError(f"BTF string offset {off} out of range")
        end = raw.find(b"\0", off)
        if end < 0:
            raise BTFError("unterminated BTF string")
        try:
            s = raw[off:end].decode()
        except UnicodeDecodeError:
            raise BTFError(f"BTF string at {off} is not UTF-8") from None
        self[off + self.start] = s
        return s


# -- per-kind decoders: (data, offset past the common header, name, size/type, vlen,
#    kflag, strings) -> type.  Spec._decode has checked the data is long enough.  Member
#    arrays are read with one iter_unpack over a slice rather than an unpack per item.

def _dec_int(d, p, name, st, vlen, kflag, strs):
    v = _U32.unpack_from(d, p)[0]
    return T.Int(name, st, (v >> 24) & 0xF, v & 0xFF, (v >> 16) & 0xFF)


def _dec_array(d, p, name, st, vlen, kflag, strs):
    a, b, c = _U32X3.unpack_from(d, p)
    return T.Array(a, b, c, name)


def _members(d, p, vlen, kflag, strs):
    it = _U32X3.iter_unpack(d[p:p + 12 * vlen])
    Member = T.Member
    if kflag:
        return [Member(strs[mn], mt, mo & 0xFFFFFF, mo >> 24) for mn, mt, mo in it]
    return [Member(strs[mn], mt, mo) for mn, mt, mo in it]


def _dec_struct(d, p, name, st, vlen, kflag, strs):
    return T.Struct(name, st, _members(d, p, vlen, kflag, strs))


def _dec_union(d, p, name, st, vlen, kflag, strs):
    return T.Union(name, st, _members(d, p, vlen, kflag, strs))


def _dec_enum(d, p, name, st, vlen, kflag, strs):
    it = (_U32_I32 if kflag else _U32X2).iter_unpack(d[p:p + 8 * vlen])
    EnumValue = T.EnumValue
    return T.Enum(name, st, bool(kflag), [EnumValue(strs[en], ev) for en, ev in it])


def _dec_enum64(d, p, name, st, vlen, kflag, strs):
    vals = []
    for en, lo, hi in _U32X3.iter_unpack(d[p:p + 12 * vlen]):
        v = hi << 32 | lo
        if kflag and v >> 63:
            v -= 1 << 64
        vals.append(T.EnumValue(strs[en], v))
    return T.Enum64(name, st, bool(kflag), vals)


def _dec_func_proto(d, p, name, st, vlen, kflag, strs):
    Param = T.Param
    ps = [Param(strs[a], b) for a, b in _U32X2.iter_unpack(d[p:p + 8 * vlen])]
    return T.FuncProto(st, ps, name)


def _dec_var(d, p, name, st, vlen, kflag, strs):
    return T.Var(name, st, _U32.unpack_from(d, p)[0])


def _dec_datasec(d, p, name, st, vlen, kflag, strs):
    VarSecinfo = T.VarSecinfo
    return T.Datasec(name, st, [VarSecinfo(*v) for v in
                                _U32X3.iter_unpack(d[p:p + 12 * vlen])])


def _dec_decl_tag(d, p, name, st, vlen, kflag, strs):
    return T.DeclTag(name, st, _I32.unpack_from(d, p)[0])


_DECODERS = {
    Kind.INT: _dec_int,
    Kind.PTR: lambda d, p, name, st, vlen, kflag, strs: T.Ptr(st, name),
    Kind.ARRAY: _dec_array,
    Kind.STRUCT: _dec_struct,
    Kind.UNION: _dec_union,
    Kind.ENUM: _dec_enum,
    Kind.FWD: lambda d, p, name, st, vlen, kflag, strs: T.Fwd(name, bool(kflag)),
    Kind.TYPEDEF: lambda d, p, name, st, vlen, kflag, strs: T.Typedef(name, st),
    Kind.VOLATILE: lambda d, p, name, st, vlen, kflag, strs: T.Volatile(st, name),
    Kind.CONST: lambda d, p, name, st, vlen, kflag, strs: T.Const(st, name),
    Kind.RESTRICT: lambda d, p, name, st, vlen, kflag, strs: T.Restrict(st, name),
    Kind.FUNC: lambda d, p, name, st, vlen, kflag, strs: T.Func(name, st, vlen),
    Kind.FUNC_PROTO: _dec_func_proto,
    Kind.VAR: _dec_var,
    Kind.DATASEC: _dec_datasec,
    Kind.FLOAT: lambda d, p, name, st, vlen, kflag, strs: T.Float(name, st),
    Kind.DECL_TAG: _dec_decl_tag,
    Kind.TYPE_TAG: lambda d, p, name, st, vlen, kflag, strs: T.TypeTag(name, st),
    Kind.ENUM64: _dec_enum64,
}


def _index(data: bytes, off: int, end: int) -> tuple[array, array]:
    """(byte offset of every type, its name offset), in id order, after one pass."""
    offs, names = array("I"), array("I")
    unpack = _TYPE.unpack_from
    while off < end:
        if off + 12 > end:
            raise BTFError(f"BTF type at byte {off} is truncated")
        name_off, info, _ = unpack(data, off)
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        if kind > 19 or kind == 0:
            raise BTFError(f"BTF type #{len(offs) + 1}: unknown kind {kind}")
        fixed, per = _TAIL.get(kind, (0, 0))
        offs.append(off)
        names.append(name_off)
        off += 12 + fixed + per * vlen
    if off != end:
        raise BTFError("BTF type section ends inside a type")
    return offs, names


class Spec:
    """A set of BTF types (ids ``start_id``..``len-1``; a split spec sits on ``base``)."""

    def __init__(self, base: Spec | None = None):
        self.base = base
        self.start_id = len(base) if base else 1
        self._data = b""
        self._offs = array("I")
        self._name_offs = array("I")
        self._strings = b"\0"
        self._str_base = len(base._strings) if base else 0
        self._cache: dict[int, object] = {}
        self._strs = _StringCache(self._strings, self._str_base, base)  # for string_at
        self._strs_full = False
        self._added: list[object] = []
        self._by_name: tuple[array, array] | None = None
        # find(): ids of the parsed types by name (they never change; CO-RE asks for the
        # same kernel names thousands of times, each a scan of the string table)
        self._found: dict[str, list[int]] = {}
        self._identity: str | None = ""

    # -- parsing ---------------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes, base: Spec | None = None, index=None) -> Spec:
        """Parse a BTF blob; raises BTFError for anything malformed."""
        if len(data) < _HDR.size:
            raise BTFError(f"BTF of {len(data)} bytes is shorter than its header")
        magic, version, _, hdr_len, t_off, t_len, s_off, s_len = _HDR.unpack_from(data)
        if magic != MAGIC:
            raise BTFError(f"bad BTF magic {magic:#x} (big-endian BTF is not supported)")
        if version != 1:
            raise BTFError(f"unsupported BTF version {version}")
        if hdr_len < _HDR.size or hdr_len > len(data):
            raise BTFError(f"bad BTF header length {hdr_len}")
        t0, s0 = hdr_len + t_off, hdr_len + s_off
        if t0 + t_len > len(data) or s0 + s_len > len(data) or t_len % 4:
            raise BTFError("BTF sections lie outside the blob")
        spec = cls(base)
        # bytes and a read-only mapping (the kernel's BTF, see btf.kernel) are kept as
        # they are: types decode from them on access; anything mutable is copied
        spec._data = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
        spec._strings = bytes(data[s0:s0 + s_len]) if s_len else b"\0"
        spec._strs = _StringCache(spec._strings, spec._str_base, base)
        if base is None and spec._strings[:1] != b"\0":
            raise BTFError("BTF string section does not start with an empty string")
        if index is not None:
            spec._offs, spec._name_offs = index
        else:
            spec._offs, spec._name_offs = _index(spec._data, t0, t0 + t_len)
        spec._identity = None          # hashed on first use: 10 ms for vmlinux's 5 MB
        return spec

    @property
    def identity(self) -> str:
        """A hash of the parsed blob ("" for a spec built in memory), for cache keys."""
        if self._identity is None:
            self._identity = blake2b(self._data, digest_size=16).hexdigest()
        return self._identity

    @identity.setter
    def identity(self, value: str) -> None:
        self._identity = value

    def check(self) -> None:
        """Decode every type and check its references (parse itself is lazy)."""
        for tid in range(self.start_id, len(self)):
            self._check(self[tid])

    def _check(self, t) -> None:
        n = len(self)
        refs = [getattr(t, "type", 0), getattr(t, "index_type", 0),
                getattr(t, "return_type", 0)]
        refs += [m.type for m in getattr(t, "members", ())]
        refs += [p.type for p in getattr(t, "params", ())]
        refs += [v.type for v in getattr(t, "vars", ())]
        for r in refs:
            if not 0 <= r < n:
                raise BTFError(f"BTF {t.kind.name} {t.name!r} refers to missing type {r}")

    # -- access ----------------------------------------------------------------------
    def __len__(self) -> int:
        return self.start_id + len(self._offs) + len(self._added)

    def string_at(self, off: int) -> str:
        return self._strs[off]

    def __getitem__(self, tid: int):
        if tid == 0:
            return T.Void()
        if tid < self.start_id:
            if self.base is None:
                raise BTFError(f"no BTF type {tid}")
            return self.base[tid]
        t = self._cache.get(tid)
        if t is None:
            i = tid - self.start_id
            if i < len(self._offs):
                t = self._decode(self._offs[i])
            elif i - len(self._offs) < len(self._added):
                t = self._added[i - len(self._offs)]
            else:
                raise BTFError(f"no BTF type {tid}")
            self._cache[tid] = t
        return t

    type_by_id = __getitem__

    def types(self) -> list:
        """Every type, ids 0..len-1, as a list.  Same objects spec[i] gives (and caches),
        but decoded in one go, which is several times faster for all of vmlinux."""
        out = self.base.types() if self.base is not None else [T.Void()]
        self._fill_strings()
        cache, decode = self._cache, self._decode
        tid = self.start_id
        # Speed: hundreds of thousands of new objects (none in a cycle) would set off
        # many pointless garbage collections, which nearly doubled the time.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            for off in self._offs:
                t = cache.get(tid)
                if t is None:
                    t = cache[tid] = decode(off)
                out.append(t)
                tid += 1
        finally:
            if gc_was_on:
                gc.enable()
        out += self._added
        return out

    def _fill_strings(self) -> None:
        """Put every string of the table into the string_at cache at once (one split
        instead of a find+decode per lookup).  Pieces that are unterminated or not
        UTF-8, and offsets into the middle of a string, are left to its __missing__."""
        if self._strs_full:
            return
        self._strs_full = True
        raw = self._strings
        parts = raw.split(b"\0")[:-1]  # the last piece has no terminating NUL
        offs = accumulate((len(b) + 1 for b in parts), initial=self._str_base)
        try:
            # NUL never occurs inside a UTF-8 sequence, so both splits agree piecewise
            self._strs.update(zip(offs, raw.decode().split("\0")[:-1]))
        except UnicodeDecodeError:
            for o, b in zip(offs, parts):
                try:
                    self._strs[o] = b.decode()
                except UnicodeDecodeError:
                    pass

    def _raw_size(self, off: int) -> int:
        """Bytes of the raw type at ``off`` (header, fixed part, vlen items)."""
        info = _U32.unpack_from(self._data, off + 4)[0]
        fixed, per = _TAIL.get((info >> 24) & 0x1F, (0, 0))
        return 12 + fixed + per * (info & 0xFFFF)

    def raw_kind(self, tid: int) -> int:
        """The kind of type ``tid`` without decoding it (a parsed type's header says)."""
        i = tid - self.start_id
        if 0 <= i < len(self._offs) and tid not in self._cache:
            return (_U32.unpack_from(self._data, self._offs[i] + 4)[0] >> 24) & 0x1F
        return self[tid].kind

    def _decode(self, off: int):
        d = self._data
        try:
            name_off, info, st = _unpack_type(d, off)
        except struct.error:
            raise BTFError(f"BTF type at byte {off} is truncated") from None
        strs = self._strs
        name = strs[name_off]
        kind = (info >> 24) & 0x1F
        dec = _DECODERS.get(kind)
        if dec is None:
            raise BTFError(f"BTF type at byte {off}: unknown kind {kind}")
        vlen = info & 0xFFFF
        fixed, per = _TAIL.get(kind, (0, 0))
        p = off + 12
        if p + fixed + per * vlen > len(d):  # decoders slice: check the length up front
            raise BTFError(f"BTF type at byte {off} is truncated")
        return dec(d, p, name, st, vlen, info >> 31, strs)

    # -- lookup ----------------------------------------------------------------------
    def _name_index(self) -> tuple[array, array]:
        if self._by_name is None:
            pairs = sorted(zip(self._name_offs, range(self.start_id,
                                                      self.start_id + len(self._offs))))
            self._by_name = (array("I", (p[0] for p in pairs)), array("I", (p[1] for p in pairs)))
        return self._by_name

    def find(self, name: str, kind: Kind | None = None) -> list[int]:
        """Ids of types called ``name`` (of ``kind`` when given), base first."""
        out = self.base.find(name, kind) if self.base is not None else []
        if not name:
            return out
        own = self._found.get(name)
        if own is None:
            raw = b"\0" + name.encode() + b"\0"
            offsets = []
            pos = self._strings.find(raw)
            while pos >= 0:
                offsets.append(pos + 1 + self._str_base)
                pos = self._strings.find(raw, pos + 1)
            keys, ids = self._name_index()
            own = []
            for so in offsets:
                i = bisect.bisect_left(keys, so)
                while i < len(keys) and keys[i] == so:
                    own.append(ids[i])
                    i += 1
            self._found[name] = own
        out += own
        out += [self.start_id + len(self._offs) + i for i, t in enumerate(self._added)
                if t.name == name]
        if kind is not None:
            out = [t for t in out if self[t].kind == kind]
        return sorted(out)

    def find_prefix(self, prefix: str) -> list[int]:
        """Ids of types whose names start with ``prefix`` (base first): CO-RE's flavored
        candidates (``task_struct___old`` stands for ``task_struct``)."""
        out = self.base.find_prefix(prefix) if self.base is not None else []
        if not prefix:
            return out
        raw = b"\0" + prefix.encode()      # a string's start follows the previous NUL
        keys, ids = self._name_index()
        pos = self._strings.find(raw)
        while pos >= 0:
            so = pos + 1 + self._str_base
            i = bisect.bisect_left(keys, so)
            while i < len(keys) and keys[i] == so:
                out.append(ids[i])
                i += 1
            pos = self._strings.find(raw, pos + 1)
        out += [self.start_id + len(self._offs) + i for i, t in enumerate(self._added)
                if t.name and t.name.startswith(prefix)]
        return sorted(out)

    def find_one(self, name: str, kind: Kind | None = None) -> int:
        ids = self.find(name, kind)
        if not ids:
            raise BTFError(f"no BTF {kind.name.lower() if kind else 'type'} named {name!r}")
        return ids[0]

    def resolve(self, tid: int) -> int:
        """Skip typedefs and modifiers."""
        for _ in range(_MAX_DEPTH):
            t = self[tid]
            if t.kind not in T.MODIFIERS:
                return tid
            tid = t.type
        raise BTFError(f"type {tid}: typedef/modifier chain too deep (cycle?)")

    def sizeof(self, tid: int, _depth: int = 0) -> int:
        if _depth > _MAX_DEPTH:
            raise BTFError(f"type {tid}: too deep to size (cycle?)")
        t = self[self.resolve(tid)]
        k = t.kind
        if k in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT,
                 Kind.DATASEC):
            return t.size
        if k == Kind.PTR:
            return 8
        if k == Kind.ARRAY:
            return t.nelems * self.sizeof(t.type, _depth + 1)
        if k == Kind.VAR:
            return self.sizeof(t.type, _depth + 1)
        return 0

    # -- building and marshalling ----------------------------------------------------
    def add(self, t) -> int:
        self._added.append(t)
        self._by_name = self._by_name
        return len(self) - 1

    def replace(self, tid: int, t) -> None:
        """Make type ``tid`` (one of this spec's own) be ``t``, of any kind: the next
        to_bytes marshals it in the old one's place, every id stays.  For rewriting a
        copy on its way to the kernel: find() still knows a parsed type by its old name."""
        if not self.start_id <= tid < len(self):
            raise BTFError(f"no BTF type {tid} to replace")
        i = tid - self.start_id
        if i >= len(self._offs):
            self._added[i - len(self._offs)] = t
        self._cache[tid] = t

    def to_bytes(self) -> bytes:
        """Marshal the types of this spec (for split BTF, only its own part).

        A parsed spec keeps its string table as it was, so string offsets recorded
        elsewhere (BTF.ext line info) stay valid; new names are appended.
        """
        strings = bytearray(self._strings)
        base = self._str_base
        seen: dict[str, int] = {}
        pos = 0
        for raw in bytes(strings).split(b"\0"):
            seen.setdefault(raw.decode(errors="replace"), pos + base)
            pos += len(raw) + 1
        seen[""] = 0 if self.base is None else seen.get("", base)

        def so(name: str) -> int:
            off = seen.get(name)
            if off is None:
                off = seen[name] = len(strings) + base
                strings.extend(name.encode() + b"\0")
            return off
        out = bytearray()
        # a parsed type that was never decoded cannot have changed: its bytes go out as
        # they came in (its name offset is still valid: the string table is kept)
        data, offs, cache, start = self._data, self._offs, self._cache, self.start_id
        n = len(offs)
        for i in range(n):
            t = cache.get(start + i)
            if t is None:
                off = offs[i]
                end = offs[i + 1] if i + 1 < n else off + self._raw_size(off)
                out += data[off:end]
            else:
                out += _marshal(t, so)
        for t in self._added:
            out += _marshal(t, so)
        hdr = _HDR.pack(MAGIC, 1, 0, _HDR.size, 0, len(out), len(out), len(strings))
        return hdr + bytes(out) + bytes(strings)


def _info(kind: int, vlen: int = 0, kflag: int = 0) -> int:
    if vlen > _MAX_VLEN:
        raise BTFError(f"{vlen} members is more than BTF can hold")
    return (kflag << 31) | (kind << 24) | vlen


def _marshal(t, so) -> bytes:
    k = t.kind
    h = _TYPE.pack
    if k == Kind.INT:
        return h(so(t.name), _info(k), t.size) + struct.pack(
            "<I", (t.encoding & 0xF) << 24 | (t.offset & 0xFF) << 16 | (t.bits & 0xFF))
    if k in (Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG):
        return h(so(t.name), _info(k), t.type)
    if k == Kind.ARRAY:
        return h(0, _info(k), 0) + struct.pack("<III", t.type, t.index_type, t.nelems)
    if k in (Kind.STRUCT, Kind.UNION):
        kflag = int(any(m.bitfield_size for m in t.members))
        body = b"".join(struct.pack("<III", so(m.name), m.type,
                                    (m.bitfield_size << 24 | m.offset_bits) if kflag
                                    else m.offset_bits) for m in t.members)
        return h(so(t.name), _info(k, len(t.members), kflag), t.size) + body
    if k == Kind.ENUM:
        body = b"".join(struct.pack("<Ii" if t.signed else "<II", so(v.name), v.value)
                        for v in t.values)
        return h(so(t.name), _info(k, len(t.values), int(t.signed)), t.size) + body
    if k == Kind.ENUM64:
        body = b"".join(struct.pack("<III", so(v.name), v.value & 0xFFFFFFFF,
                                    (v.value >> 32) & 0xFFFFFFFF) for v in t.values)
        return h(so(t.name), _info(k, len(t.values), int(t.signed)), t.size) + body
    if k == Kind.FWD:
        return h(so(t.name), _info(k, 0, int(t.is_union)), 0)
    if k == Kind.FUNC:
        return h(so(t.name), _info(k, t.linkage), t.type)
    if k == Kind.FUNC_PROTO:
        body = b"".join(struct.pack("<II", so(p.name), p.type) for p in t.params)
        return h(0, _info(k, len(t.params)), t.return_type) + body
    if k == Kind.VAR:
        return h(so(t.name), _info(k), t.type) + struct.pack("<I", t.linkage)
    if k == Kind.DATASEC:
        body = b"".join(struct.pack("<III", v.type, v.offset, v.size) for v in t.vars)
        return h(so(t.name), _info(k, len(t.vars)), t.size) + body
    if k == Kind.FLOAT:
        return h(so(t.name), _info(k), t.size)
    if k == Kind.DECL_TAG:
        return h(so(t.name), _info(k), t.type) + struct.pack("<i", t.component_idx)
    raise BTFError(f"cannot marshal BTF kind {k}")
