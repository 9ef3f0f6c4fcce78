"""Python values <-> the bytes of a C object, typed by BTF, with the checks C would not do.

Used for global variables (``obj.bss.x``, ``load(variables=...)``, ``MapSpec.set_var``)
and BTF-typed map keys and values.  Decoding gives ints, bools, floats, ``str`` for
``char[N]`` (up to the first NUL), tuples for other arrays and ctypes instances for
structs and unions.  Encoding refuses what would be stored wrongly: a float or a string
for an int (TypeError), an int outside the type's range or a string longer than the array
(:class:`FitError`, both an OverflowError and a ValueError).

``types`` is anything with ``[tid]``, ``resolve(tid)`` and ``sizeof(tid)``: a parsed BTF
spec or a :class:`pybpf.ctypes_btf.TypeTable` (what a load plan keeps).
"""

from __future__ import annotations

import struct

from .btf.kinds import Kind

__all__ = ["FitError", "Codec", "encode_untyped"]

_CHAR, _BOOL, _SIGNED = 2, 4, 1


class FitError(OverflowError, ValueError):
    """A value of the right type that does not fit the C object (range, length)."""


def _is_char(t) -> bool:
    return t.kind == Kind.INT and t.size == 1 and (t.name == "char" or bool(t.encoding & _CHAR))


class Codec:
    """Encoder/decoder for the types of one BTF (caches the ctypes classes it makes)."""

    def __init__(self, types):
        self.types = types
        self._conv = None

    def ctype(self, tid: int) -> type:
        """The ctypes type for ``tid`` (see :mod:`pybpf.ctypes_btf`)."""
        if self._conv is None:
            from .ctypes_btf import Converter
            self._conv = Converter(self.types)
        return self._conv(tid)

    def _t(self, tid: int):
        tid = self.types.resolve(tid)
        return tid, self.types[tid]

    # -- decoding -------------------------------------------------------------------------
    def decode(self, tid: int, raw: bytes):
        """The Python value of ``raw``, an object of type ``tid``."""
        tid, t = self._t(tid)
        k = t.kind
        if k == Kind.INT:
            if t.encoding & _BOOL:
                return raw[:1] != b"\0"
            return int.from_bytes(raw[:t.size], "little", signed=bool(t.encoding & _SIGNED))
        if k in (Kind.ENUM, Kind.ENUM64):
            return int.from_bytes(raw[:t.size], "little", signed=bool(t.signed))
        if k == Kind.PTR:
            return int.from_bytes(raw[:8], "little")
        if k == Kind.FLOAT and t.size in (4, 8):
            return struct.unpack("<f" if t.size == 4 else "<d", raw[:t.size])[0]
        if k == Kind.ARRAY:
            etid, et = self._t(t.type)
            if _is_char(et):
                return bytes(raw[:t.nelems]).split(b"\0", 1)[0].decode(errors="replace")
            es = self.types.sizeof(etid)
            return tuple(self.decode(etid, raw[i * es:(i + 1) * es]) for i in range(t.nelems))
        if k in (Kind.STRUCT, Kind.UNION):
            ct = self.ctype(tid)
            return ct.from_buffer_copy(bytes(raw).ljust(t.size, b"\0")[:t.size])
        return bytes(raw)

    # -- encoding -------------------------------------------------------------------------
    def encode(self, tid: int, value, name: str) -> bytes:
        """The bytes of ``value`` as an object of type ``tid`` (``name`` is for errors)."""
        tid, t = self._t(tid)
        k = t.kind
        size = self.types.sizeof(tid)
        if isinstance(value, (bytes, bytearray, memoryview)) and not (
                k == Kind.ARRAY and _is_char(self._t(t.type)[1])):
            raw = bytes(value)           # raw bytes: an explicit escape hatch (zero-padded)
            if len(raw) > size:
                raise FitError(f"{name}: {len(raw)} bytes do not fit a {size}-byte object")
            return raw + bytes(size - len(raw))
        if k == Kind.INT:
            if t.encoding & _BOOL:
                if not isinstance(value, int) or value not in (0, 1):
                    raise TypeError(f"{name}: expected a bool, got {_desc(value)}")
                return bytes([int(value)]) + bytes(size - 1)
            if _is_char(t) and isinstance(value, str):
                raw = value.encode()
                if len(raw) != 1:
                    raise FitError(f"{name}: a char holds one byte, got {value!r}")
                return raw
            return _int(value, size, bool(t.encoding & _SIGNED), name)
        if k in (Kind.ENUM, Kind.ENUM64):
            return _int(value, size, bool(t.signed), name)
        if k == Kind.PTR:
            return _int(value, 8, False, name)
        if k == Kind.FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name}: expected a float, got {_desc(value)}")
            try:
                return struct.pack("<f" if size == 4 else "<d", value)
            except (OverflowError, struct.error):
                raise FitError(f"{name}: {value} does not fit a {size * 8}-bit float") \
                    from None
        if k == Kind.ARRAY:
            return self._array(tid, t, value, name)
        if k in (Kind.STRUCT, Kind.UNION):
            return self._record(tid, t, value, name)
        raise TypeError(f"{name}: cannot store a Python value in a {k.name.lower()}")

    def _array(self, tid: int, t, value, name: str) -> bytes:
        etid, et = self._t(t.type)
        n = t.nelems
        if _is_char(et):
            if isinstance(value, str):
                raw = value.encode()
                if len(raw) >= n:        # keep room for the NUL the C side expects
                    raise FitError(f"{name}: {len(raw)} bytes of text do not fit in char[{n}]"
                                   " with its NUL")
            elif isinstance(value, (bytes, bytearray, memoryview)):
                raw = bytes(value)
                if len(raw) > n:
                    raise FitError(f"{name}: {len(raw)} bytes do not fit in char[{n}]")
            else:
                raise TypeError(f"{name}: expected str or bytes for char[{n}], got "
                                f"{_desc(value)}")
            return raw + bytes(n - len(raw))
        if isinstance(value, (str, dict)) or not hasattr(value, "__len__"):
            raise TypeError(f"{name}: expected a sequence for an array of {n}, got "
                            f"{_desc(value)}")
        if len(value) > n:
            raise FitError(f"{name}: {len(value)} items do not fit in an array of {n}")
        es = self.types.sizeof(etid)
        out = b"".join(self.encode(etid, v, f"{name}[{i}]") for i, v in enumerate(value))
        return out + bytes(es * (n - len(value)))

    def _record(self, tid: int, t, value, name: str) -> bytes:
        import ctypes
        ct = self.ctype(tid)
        if isinstance(value, (ctypes.Structure, ctypes.Union, ctypes.Array)):
            if ctypes.sizeof(value) != t.size:
                raise TypeError(f"{name}: a {ctypes.sizeof(value)}-byte {type(value).__name__}"
                                f" given for a {t.size}-byte {t.name or 'struct'}")
            return bytes(value)
        if not isinstance(value, dict):
            raise TypeError(f"{name}: expected a dict or a {ct.__name__} instance, got "
                            f"{_desc(value)}")
        buf = bytearray(t.size)
        members = {m.name: m for m in _flat_members(self.types, t)}
        for key, v in value.items():
            m = members.get(key)
            if m is None:
                raise TypeError(f"{name}: {t.name or 'struct'} has no member {key!r}")
            if m.bitfield_size:
                continue                 # set through ctypes below
            raw = self.encode(m.type, v, f"{name}.{key}")
            off = m.offset_bits // 8
            buf[off:off + len(raw)] = raw
        obj = ct.from_buffer(buf)
        for key, v in value.items():
            m = members[key]
            if m.bitfield_size:
                signed = bool(getattr(self._t(m.type)[1], "encoding", 0) & _SIGNED)
                _int(v, 8, signed, f"{name}.{key}", bits=m.bitfield_size)
                setattr(obj, key, v)
        out = bytes(buf)
        del obj
        return out


class _Flat:
    __slots__ = ("name", "type", "offset_bits", "bitfield_size")

    def __init__(self, name, type_, off, bits):
        self.name, self.type, self.offset_bits, self.bitfield_size = name, type_, off, bits


def _flat_members(types, t, base: int = 0, depth: int = 0):
    """Members by name, looking through anonymous structs and unions as C does."""
    for m in t.members:
        if m.name:
            yield _Flat(m.name, m.type, base + m.offset_bits, m.bitfield_size)
        elif depth < 16:
            inner = types[types.resolve(m.type)]
            if inner.kind in (Kind.STRUCT, Kind.UNION):
                yield from _flat_members(types, inner, base + m.offset_bits, depth + 1)


def _desc(v) -> str:
    return f"{type(v).__name__} {v!r}" if not isinstance(v, (bytes, bytearray)) else \
        f"{len(v)} bytes"


def _int(value, size: int, signed: bool, name: str, bits: int = 0) -> bytes:
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {_desc(value)}")
    nbits = bits or size * 8
    lo, hi = (-(1 << (nbits - 1)), (1 << (nbits - 1)) - 1) if signed else (0, (1 << nbits) - 1)
    if not lo <= value <= hi:
        raise FitError(f"{name}: {value} is out of range for a{'' if signed else 'n unsigned'}"
                       f" {nbits}-bit integer ({lo}..{hi})")
    return value.to_bytes(size, "little", signed=signed)


def encode_untyped(value, size: int, signed: bool, name: str) -> bytes:
    """Bytes for a variable known only by size (objects without BTF): ints in range, str
    or bytes that fit, floats only in 4 or 8 bytes."""
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        raw = value.encode() if isinstance(value, str) else bytes(value)
        if len(raw) > size:
            raise FitError(f"{name}: {len(raw)} bytes do not fit in {size}")
        return raw + bytes(size - len(raw))
    if isinstance(value, float):
        if size not in (4, 8):
            raise TypeError(f"{name}: cannot store a float in {size} bytes")
        return struct.pack("<f" if size == 4 else "<d", value)
    if isinstance(value, int):
        return _int(value, size, signed or value < 0, name)
    raise TypeError(f"{name}: cannot store a {type(value).__name__}")
