"""Typed access to a loaded object's global variables: ``obj.bss.x``, ``obj.data.y = 5``,
``obj.rodata.z`` (read-only once loaded), as a libbpf skeleton's ``skel->bss->x``.

Maps the kernel lets us mmap (global data with BTF is created BPF_F_MMAPABLE) are mapped
once and read and written in place, so writing one variable never rewrites its
neighbours (the program may be updating them); other maps go through lookup/update.
"""

from __future__ import annotations

import struct

# GlobalsMixin (with Object, in loader) and the plan-table encoding of plain constants
# (builder, which sets globals before load) are where a warm start finds them without
# this module; still importable from here
from .builder import _plain_scalar, _resolved
from .loader import GlobalsMixin  # noqa: F401

_KEY0 = struct.pack("<I", 0)
_RDONLY_PROG = 1 << 7          # BPF_F_RDONLY_PROG
_MMAPABLE = 1 << 10            # BPF_F_MMAPABLE


def codec(obj):
    """The :class:`~pybpf.typedvalue.Codec` of ``obj``'s BTF (None without BTF)."""
    if obj._codec is None:
        types = obj._spec.btf if obj._spec is not None else None
        if types is None and obj._plan is not None and obj._plan.get("types"):
            from ..ctypes_btf import TypeTable
            types = TypeTable(obj._plan["types"])
        if types is None:
            return None
        from ..typedvalue import Codec
        obj._codec = Codec(types)
    return obj._codec


def encode(obj, name: str, value) -> bytes:
    """Checked bytes of ``value`` for global ``name`` of ``obj`` (typed when BTF knows it)."""
    section, offset, size, signed, tid = obj._var(name)
    if tid and obj._spec is None and obj._plan is not None:
        raw = _plain_scalar(obj._plan.get("types") or {}, tid, value)
        if raw is not None:
            return raw
    c = codec(obj) if tid else None
    if c is not None:
        return c.encode(tid, value, name)
    from ..typedvalue import encode_untyped
    return encode_untyped(value, size, signed, name)


def _plain_int(types: dict, tid: int, raw: bytes):
    """What the Codec decodes ``raw`` of a C integer or bool to, read straight from a
    plan's type table (a counter read on a warm start, without importing the type model);
    None for any other type."""
    t = _resolved(types, tid)
    if t is None or t[0] != 1:                  # BTF_KIND_INT
        return None
    if t[4] & 4:                                # BTF_INT_BOOL
        return raw[:1] != b"\0"
    return int.from_bytes(raw[:t[3]], "little", signed=bool(t[4] & 1))


def _mapping(obj, section: str):
    """A shared mmap of the section's map, or None when the map is not mmapable."""
    mm = obj._mmaps.get(section)
    if mm is None and section not in obj._mmaps:
        m = obj.maps[section]
        if m.flags & _MMAPABLE:
            import mmap
            prot = mmap.PROT_READ if m.flags & _RDONLY_PROG else \
                mmap.PROT_READ | mmap.PROT_WRITE
            mm = mmap.mmap(m.fileno(), m.value_size, flags=mmap.MAP_SHARED, prot=prot)
            obj._owned.append(mm)
        obj._mmaps[section] = mm
    return mm


def read(obj, name: str):
    """The current value of global ``name``, decoded by its type."""
    section, offset, size, signed, tid = obj._var(name)
    mm = _mapping(obj, section)
    if mm is not None:
        raw = mm[offset:offset + size]
    else:
        raw = bytes(obj.maps[section].lookup_raw(_KEY0))[offset:offset + size]
    if tid and obj._spec is None and obj._plan is not None:
        value = _plain_int(obj._plan.get("types") or {}, tid, raw)
        if value is not None:
            return value
    c = codec(obj) if tid else None
    if c is not None:
        return c.decode(tid, raw)
    return int.from_bytes(raw, "little", signed=signed) if size in (1, 2, 4, 8) else raw


def write(obj, name: str, value) -> None:
    """Store ``value`` into global ``name`` of the loaded object (``.data``/``.bss``)."""
    section, offset, size, signed, tid = obj._var(name)
    if section.startswith(".rodata") or section == ".kconfig":
        from ..errors import ReadOnlyError
        raise ReadOnlyError(f"{name} is in {section}, which is read-only once loaded: set it "
                             f"before load with pybpf.load(..., variables={{{name!r}: ...}}) "
                             f"or spec.maps[{section!r}].set_var()")
    raw = encode(obj, name, value)
    mm = _mapping(obj, section)
    if mm is not None:
        mm[offset:offset + size] = raw
        return
    m = obj.maps[section]
    data = bytearray(m.lookup_raw(_KEY0))
    data[offset:offset + size] = raw
    m.update(_KEY0, bytes(data))


class DataSection:
    """The global variables of one data section as attributes (``obj.bss.counter``).

    Reads decode by BTF type (int, bool, float, str for ``char[N]``, tuple for arrays,
    ctypes for structs); writes are checked (TypeError, OverflowError).  ``.rodata`` is
    read-only after load: set it with ``load(variables=...)``.
    """

    __slots__ = ("_obj", "_section")

    def __init__(self, obj, section: str):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_section", section)

    def _names(self) -> list[str]:
        return [n for n, g in self._obj._globals.items() if g[0] == self._section]

    def _check(self, name: str) -> None:
        g = self._obj._globals.get(name)
        if g is None or g[0] != self._section:
            raise AttributeError(f"{self._section} has no variable {name!r}; known: "
                                 f"{sorted(self._names())}")

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        self._check(name)
        return read(self._obj, name)

    def __setattr__(self, name: str, value) -> None:
        self._check(name)
        write(self._obj, name, value)

    __getitem__ = __getattr__
    __setitem__ = __setattr__

    def __dir__(self):
        return self._names()

    def __iter__(self):
        return iter(self._names())

    def items(self):
        """(name, value) of every variable of the section."""
        return [(n, read(self._obj, n)) for n in self._names()]

    def __repr__(self) -> str:
        return f"<DataSection {self._section} {self._names()}>"


def _inner_map(obj, map_id: int):
    """The map a map-in-map slot holds: the object's own Map when it is one of them, else
    a new Map on the id (the caller closes it)."""
    for mm in obj.maps.values():
        try:
            if mm.id == map_id:
                return mm
        except Exception:          # a closed map, or one without an id to read
            continue
    from ..maps import Map
    return Map.from_id(map_id)


def typed_map(obj, name: str):
    """A view of ``obj.maps[name]`` decoding keys and values by the map's BTF types (the
    inner maps of a map-in-map as Maps)."""
    import copy
    if name not in obj.maps:
        raise KeyError(f"no map {name!r}; maps: {sorted(obj.maps)}")
    m = obj.maps[name]
    if obj._spec is not None:
        ms = obj._spec.maps.get(name)
        ids = (ms.key_type_id, ms.value_type_id) if ms is not None else (0, 0)
    else:
        e = next((e for e in obj._plan["maps"] if e["name"] == name), None)
        ids = (e["key_type_id"], e["value_type_id"]) if e is not None else (0, 0)
    c = codec(obj)
    if c is None or not any(ids):
        raise KeyError(f"map {name!r} has no BTF key/value types (declare it with "
                       "__type(key, ...)/__type(value, ...) in SEC(\".maps\") and compile "
                       "with -g)")
    view = copy.copy(m)

    def dec(tid):
        if not tid:
            return None
        return lambda raw: c.decode(tid, raw)
    view.key_type, view.value_type = dec(ids[0]), dec(ids[1])
    if m.type in (12, 13):          # ARRAY_OF_MAPS, HASH_OF_MAPS: the kernel reads back ids
        view.value_type = lambda raw: _inner_map(obj, int.from_bytes(raw[:4], "little"))
    raw_enc = view._enc

    def enc(v, size: int, what: str) -> bytes:
        # writes are checked as globals are: dicts for structs, str for char[N], ints in
        # range; a Map or program (map-in-map, prog array) stays its fd
        tid = ids[0] if what == "key" else ids[1]
        if not tid or hasattr(v, "fileno"):
            return raw_enc(v, size, what)
        raw = c.encode(tid, v, f"{name} {what}")
        if len(raw) != size:
            return raw_enc(v, size, what)
        return raw
    view._enc = enc
    return view
