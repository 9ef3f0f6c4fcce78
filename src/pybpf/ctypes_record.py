"""ctypes types as plain data and back, so a cached C layout needs no BTF code.

:func:`describe` turns the types :mod:`pybpf.ctypes_btf` made (structs and unions with
explicit padding, arrays, bitfields and ``__int128`` members as properties over raw bytes,
flexible array members, aliases of members named by Python keywords) into nested tuples that
``marshal`` stores; :func:`build` makes the same types again from them with ctypes alone.
``pybpf.ctype(header=...)`` keeps them in a source record (:mod:`pybpf.srcrecord`), so a
warm start imports neither the BTF model nor the converter.  The bitfield properties live
here (the converter uses them too), so both make the very same classes.
"""

from __future__ import annotations

import ctypes

_VERSION = 2
_SIMPLE = frozenset(("c_char", "c_bool", "c_byte", "c_ubyte", "c_short", "c_ushort", "c_int",
                     "c_uint", "c_long", "c_ulong", "c_longlong", "c_ulonglong", "c_float",
                     "c_double"))


class Bitfield(property):
    """A property reading/writing ``bits`` bits at ``shift`` of the raw bytes ``store``
    (``spec``), sign-extended if ``signed``: the compiler's layout exactly, where ctypes'
    own bitfields follow other rules."""

    def __init__(self, store: str, shift: int, bits: int, signed: bool):
        mask = (1 << bits) - 1

        def get(self):
            v = int.from_bytes(bytes(getattr(self, store)), "little") >> shift & mask
            return v - (1 << bits) if signed and v >> (bits - 1) else v

        def set_(self, value):
            raw = getattr(self, store)
            n = len(raw)
            v = int.from_bytes(bytes(raw), "little")
            v = (v & ~(mask << shift)) | ((int(value) & mask) << shift)
            ctypes.memmove(raw, v.to_bytes(n, "little"), n)
        super().__init__(get, set_)
        self.spec = (store, shift, bits, bool(signed))


class Alias(property):
    """``e.from_`` for a member C names with a Python keyword (``e.from`` does not
    parse); ``getattr(e, "from")`` works too."""

    def __init__(self, target: str):
        super().__init__(lambda self: getattr(self, target),
                         lambda self, value: setattr(self, target, value))
        self.spec = target


class FlexArray(property):
    """A flexible array member (``T data[];``, the struct's last): the elements a record
    decoded by :func:`pybpf.records.decoder` holds past the member's offset (a ring buffer
    record's own length; a perf buffer pads records to 8 bytes), none in a plain instance.
    The elements share the record's memory; the member itself cannot be assigned."""

    def __init__(self, offset: int, elem: type):
        esize = max(ctypes.sizeof(elem), 1)

        def get(self):
            rec, n = self.__dict__.get("_record_") or (self, offset)   # (buffer, length)
            return (elem * max(0, (n - offset) // esize)).from_buffer(rec, offset)

        def set_(self, value):
            raise AttributeError("a flexible array member takes its length from the record:"
                                 " write its elements")
        super().__init__(get, set_)
        self.offset, self.elem = offset, elem


def flexible(cls: type, name: str) -> None:
    """Make member ``name`` of ``cls`` (a zero-length array, the struct's last field) a
    :class:`FlexArray`."""
    arr = dict(cls._fields_)[name]
    if not (issubclass(arr, ctypes.Array) and arr._length_ == 0):
        raise ValueError(f"{cls.__name__}.{name}: not a zero-length array")
    setattr(cls, name, FlexArray(getattr(cls, name).offset, arr._type_))
    cls._flex_ = name


def enum_type(base: type, name: str, pairs) -> type:
    """``ctype("enum color")``: the enum's ctypes int with each enumerator as a class
    attribute (``Color.RED``) and ``_enumerators_``, ((name, value), ...) in C's order."""
    pairs = tuple((str(n), int(v)) for n, v in pairs)
    ns = {n: v for n, v in pairs if n.isidentifier() and not hasattr(base, n)}
    ns["_enumerators_"] = pairs
    return type(name or base.__name__, (base,), ns)


def record_repr(self) -> str:
    """``event(pid=7, comm=b'bash', ...)``: the members in C's order (those of anonymous
    structs and unions in place), arrays as lists."""
    return f"{type(self).__name__}({', '.join(_parts(self))})"


def _parts(rec) -> list[str]:
    cls = type(rec)
    anon = set(getattr(cls, "_anonymous_", ()))
    out: list[str] = []
    for name in cls.__dict__.get("_members_") or [f[0] for f in cls._fields_]:
        if name in anon:
            out += _parts(getattr(rec, name))
        elif not name.startswith("__"):
            out.append(f"{name}={_plain(getattr(rec, name))!r}")
    return out


class _Raw(str):
    """A value's repr as already written (nested records)."""

    def __repr__(self) -> str:
        return str(self)


def _plain(v):
    if isinstance(v, ctypes.Array):
        return [_plain(x) for x in v]
    if isinstance(v, (ctypes.Structure, ctypes.Union)):
        return _Raw(repr(v))
    return v


def init_by_members(self, *args, **kw):
    """``__init__`` of a record with bitfields: positional values go to the members in C's
    order, as a C initializer (and bcc's ctypes) would put them."""
    type(self).__bases__[0].__init__(self)        # Structure or Union
    for name, v in list(zip(self._members_, args)) + list(kw.items()):
        cur = getattr(self, name)
        if isinstance(v, (tuple, list)) and isinstance(cur, (ctypes.Structure, ctypes.Array)):
            v = type(cur)(*v)
        setattr(self, name, v)


def describe(types) -> tuple:
    """``(version, nodes, roots)`` for ``types``: each node a tuple naming a ctypes scalar,
    an array of an earlier node, or a struct/union of earlier nodes.  ValueError for a
    type this cannot describe (not one the converter makes)."""
    nodes: list[tuple] = []
    index: dict[int, int] = {}

    def node(t) -> int:
        i = index.get(id(t))
        if i is not None:
            return i
        if isinstance(t, type) and issubclass(t, ctypes.Array):
            n = ("a", node(t._type_), t._length_)
        elif isinstance(t, type) and t.__bases__ in ((ctypes.Structure,), (ctypes.Union,)):
            d = t.__dict__
            fields = tuple((f[0], node(f[1])) for f in d["_fields_"])
            bits = tuple((k, *v.spec) for k, v in d.items() if isinstance(v, Bitfield))
            extras = tuple(("alias", k, v.spec) for k, v in d.items() if isinstance(v, Alias))
            if "_flex_" in d:
                extras += (("flex", d["_flex_"]),)
            init = d.get("__init__")
            if init is not None and init is not init_by_members:
                raise ValueError(f"{t.__name__} has its own __init__")
            n = ("s" if t.__bases__[0] is ctypes.Structure else "u", t.__name__,
                 d.get("_pack_", 0), fields, tuple(d.get("_anonymous_", ())),
                 None if "_members_" not in d else tuple(d["_members_"]), bits,
                 init is not None, ctypes.sizeof(t), extras)
        elif getattr(ctypes, getattr(t, "__name__", ""), None) is t and t.__name__ in _SIMPLE:
            n = ("c", t.__name__)
        elif isinstance(t, type) and "_enumerators_" in t.__dict__:
            n = ("e", node(t.__bases__[0]), t.__name__, t._enumerators_)
        else:
            raise ValueError(f"cannot describe {t!r}")
        nodes.append(n)
        index[id(t)] = len(nodes) - 1
        return len(nodes) - 1

    roots = tuple(node(t) for t in types)
    return (_VERSION, tuple(nodes), roots)


def build(desc) -> list[type]:
    """The types :func:`describe` described (ValueError, TypeError, KeyError or
    IndexError for data it did not write: the caller treats that as a miss)."""
    version, nodes, roots = desc
    if version != _VERSION:
        raise ValueError("another version of the description")
    made: list[type] = []
    for n in nodes:
        tag = n[0]
        if tag == "c":
            if n[1] not in _SIMPLE:
                raise ValueError(f"not a ctypes scalar: {n[1]!r}")
            t = getattr(ctypes, n[1])
        elif tag == "a":
            t = _ref(made, n[1]) * n[2]
        elif tag == "e":
            base = _ref(made, n[1])
            if base.__name__ not in _SIMPLE or not all(
                    type(p) is tuple and len(p) == 2 and type(p[0]) is str and
                    type(p[1]) is int for p in n[3]):
                raise ValueError(f"not an enum: {n!r}")
            t = enum_type(base, n[2], n[3])
        elif tag in ("s", "u"):
            _, name, pack, fields, anon, members, bits, init, size, extras = n
            base = ctypes.Structure if tag == "s" else ctypes.Union
            ns: dict = {} if members is None else {"_members_": list(members)}
            if pack:
                ns["_pack_"] = pack
            stores = {f for f, _ in fields}
            for bname, store, shift, width, signed in bits:
                if store not in stores or not (type(shift) is type(width) is int and
                                               shift >= 0 and 0 < width <= 128):
                    raise ValueError(f"{name}.{bname}: not a bitfield of this record")
                ns[bname] = Bitfield(store, shift, width, signed)
            if init:
                ns["__init__"] = init_by_members
            ns["__repr__"] = record_repr
            t = type(name, (base,), ns)
            if anon:
                t._anonymous_ = list(anon)
            t._fields_ = [(f, _ref(made, i)) for f, i in fields]
            for bname, store, shift, width, _ in bits:
                if shift + width > 8 * ctypes.sizeof(dict(t._fields_)[store]):
                    raise ValueError(f"{name}.{bname}: beyond its bytes")
            if ctypes.sizeof(t) != size:
                raise ValueError(f"{name}: {ctypes.sizeof(t)} bytes, recorded {size}")
            for e in extras:
                if e[0] == "alias" and len(e) == 3 and e[1] not in stores and (
                        e[2] in stores or isinstance(ns.get(e[2]), Bitfield)):
                    setattr(t, e[1], Alias(e[2]))
                elif e[0] == "flex" and len(e) == 2 and e[1] in stores and tag == "s":
                    flexible(t, e[1])
                else:
                    raise ValueError(f"{name}: unknown extra {e!r}")
        else:
            raise ValueError(f"unknown node {tag!r}")
        made.append(t)
    return [_ref(made, i) for i in roots]


def _ref(made: list, i) -> type:
    """An earlier node (a description refers only backwards)."""
    if type(i) is not int or not 0 <= i < len(made):
        raise IndexError(f"no node {i!r}")
    return made[i]
