"""A tiny stand-in for ``pybpf.btf`` (tests only), used until the real package exists.

It implements just the agreed contract the object parser relies on.
"""

from __future__ import annotations

import struct
import sys
import types
from dataclasses import dataclass, field

from pybpf.errors import BTFError


@dataclass
class Void:
    name: str = ""


@dataclass
class Int:
    name: str
    size: int
    encoding: int
    bits: int
    offset: int


@dataclass
class Ptr:
    type: int
    name: str = ""


@dataclass
class Array:
    type: int
    index_type: int
    nelems: int
    name: str = ""


@dataclass
class Member:
    name: str
    type: int
    offset_bits: int
    bitfield_size: int = 0


@dataclass
class Struct:
    name: str
    size: int
    members: list = field(default_factory=list)


@dataclass
class Union(Struct):
    pass


@dataclass
class EnumValue:
    name: str
    value: int


@dataclass
class Enum:
    name: str
    size: int
    values: list = field(default_factory=list)
    signed: bool = False


@dataclass
class Fwd:
    name: str


@dataclass
class Typedef:
    name: str
    type: int


@dataclass
class Volatile:
    type: int
    name: str = ""


@dataclass
class Const(Volatile):
    pass


@dataclass
class Restrict(Volatile):
    pass


@dataclass
class Func:
    name: str
    type: int
    linkage: int


@dataclass
class FuncProto:
    ret: int
    params: list = field(default_factory=list)
    name: str = ""


@dataclass
class Var:
    name: str
    type: int
    linkage: int


@dataclass
class VarSecinfo:
    type: int
    offset: int
    size: int


@dataclass
class Datasec:
    name: str
    size: int
    vars: list = field(default_factory=list)


@dataclass
class Float:
    name: str
    size: int


@dataclass
class DeclTag:
    name: str
    type: int
    component_idx: int


@dataclass
class TypeTag(Volatile):
    pass


class Spec:
    def __init__(self, types_, names):
        self.types = types_
        self.names = names

    @classmethod
    def parse(cls, data: bytes) -> "Spec":
        try:
            magic, ver, flags, hlen, toff, tlen, soff, slen = struct.unpack_from("<HBBIIIII", data)
            if magic != 0xEB9F:
                raise BTFError("bad magic")
            tb = data[hlen + toff:hlen + toff + tlen]
            sb = data[hlen + soff:hlen + soff + slen]

            def s(o):
                return sb[o:sb.index(b"\0", o)].decode()
            out = [Void()]
            pos = 0
            while pos < len(tb):
                no, info, st = struct.unpack_from("<III", tb, pos)
                pos += 12
                kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
                name = s(no)
                if kind == 1:
                    v, = struct.unpack_from("<I", tb, pos); pos += 4
                    out.append(Int(name, st, (v >> 24) & 0xF, v & 0xFF, (v >> 16) & 0xFF))
                elif kind == 2:
                    out.append(Ptr(st))
                elif kind == 3:
                    t, it, n = struct.unpack_from("<III", tb, pos); pos += 12
                    out.append(Array(t, it, n))
                elif kind in (4, 5):
                    ms = []
                    for _ in range(vlen):
                        mn, mt, mo = struct.unpack_from("<III", tb, pos); pos += 12
                        kf = info >> 31
                        ms.append(Member(s(mn), mt, mo & 0xFFFFFF if kf else mo,
                                         mo >> 24 if kf else 0))
                    out.append((Struct if kind == 4 else Union)(name, st, ms))
                elif kind in (6, 19):
                    vs = []
                    for _ in range(vlen):
                        if kind == 6:
                            en, ev = struct.unpack_from("<Ii", tb, pos); pos += 8
                        else:
                            en, lo, hi = struct.unpack_from("<III", tb, pos); pos += 12
                            ev = lo | hi << 32
                        vs.append(EnumValue(s(en), ev))
                    out.append(Enum(name, st, vs, bool(info >> 31)))
                elif kind == 7:
                    out.append(Fwd(name))
                elif kind == 8:
                    out.append(Typedef(name, st))
                elif kind in (9, 10, 11, 18):
                    out.append({9: Volatile, 10: Const, 11: Restrict, 18: TypeTag}[kind](st))
                elif kind == 12:
                    out.append(Func(name, st, vlen))
                elif kind == 13:
                    ps = []
                    for _ in range(vlen):
                        pn, pt = struct.unpack_from("<II", tb, pos); pos += 8
                        ps.append((s(pn), pt))
                    out.append(FuncProto(st, ps))
                elif kind == 14:
                    lk, = struct.unpack_from("<I", tb, pos); pos += 4
                    out.append(Var(name, st, lk))
                elif kind == 15:
                    vs = []
                    for _ in range(vlen):
                        vs.append(VarSecinfo(*struct.unpack_from("<III", tb, pos))); pos += 12
                    out.append(Datasec(name, st, vs))
                elif kind == 16:
                    out.append(Float(name, st))
                elif kind == 17:
                    ci, = struct.unpack_from("<i", tb, pos); pos += 4
                    out.append(DeclTag(name, st, ci))
                else:
                    raise BTFError(f"kind {kind}")
        except (struct.error, ValueError, UnicodeDecodeError) as e:
            raise BTFError(str(e)) from None
        names = {}
        for i, t in enumerate(out):
            names.setdefault(getattr(t, "name", ""), []).append(i)
        return cls(out, names)

    def __len__(self):
        return len(self.types)

    def __getitem__(self, tid):
        if not 0 <= tid < len(self.types):
            raise BTFError(f"type id {tid} out of range")
        return self.types[tid]

    def find(self, name, kind=None):
        return list(self.names.get(name, []))

    def resolve(self, tid):
        for _ in range(64):
            t = self[tid]
            if isinstance(t, (Typedef, Volatile)):
                tid = t.type
            else:
                return tid
        raise BTFError("loop")

    def sizeof(self, tid):
        tid = self.resolve(tid)
        t = self[tid]
        if isinstance(t, (Int, Struct, Enum, Float, Datasec)):
            return t.size
        if isinstance(t, Ptr):
            return 8
        if isinstance(t, Array):
            return t.nelems * self.sizeof(t.type)
        raise BTFError(f"no size for {type(t).__name__}")


def install() -> bool:
    """Register this stub as ``pybpf.btf`` when the real package is missing."""
    try:
        import pybpf.btf  # noqa: F401
        import pybpf.btf.ext  # noqa: F401
        return False
    except ImportError:
        pass
    mod = types.ModuleType("pybpf.btf")
    mod.Spec = Spec
    ext = types.ModuleType("pybpf.btf.ext")
    ext.parse_ext = lambda data, spec: types.SimpleNamespace(raw=data)
    mod.ext = ext
    sys.modules["pybpf.btf"] = mod
    sys.modules["pybpf.btf.ext"] = ext
    return True
