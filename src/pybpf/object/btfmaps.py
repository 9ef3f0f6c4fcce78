"""BTF-defined maps: decode the ``struct { __uint(type, ...); ... } name SEC(".maps")`` convention.

Integers are encoded as ``int (*name)[N]`` (a pointer to an array of N elements), or for
64-bit values (``__ulong``) as an enum member; ``key``/``value`` are ``T *`` pointers whose
target sizes give key/value sizes; ``values`` is the trailing ``T *values[]`` array of a
map-in-map (``T`` = the inner map's definition) or of a program array (``T`` = a function).
"""

from __future__ import annotations

from .._record import Record
from ..errors import BTFError, ELFError

__all__ = ["BTFMapDef", "parse_map_def", "PIN_NONE", "PIN_BY_NAME"]

PIN_NONE, PIN_BY_NAME = 0, 1
_INT_FIELDS = ("type", "max_entries", "map_flags", "numa_node", "key_size", "value_size",
               "pinning")
_MAP_IN_MAP = (12, 13)          # ARRAY_OF_MAPS, HASH_OF_MAPS
_PROG_ARRAY = 3
_PERF_EVENT_ARRAY = 4
_NO_VALUE = (27, 31, 33)        # RINGBUF, USER_RINGBUF, ARENA: the kernel takes no value size


class BTFMapDef(Record):
    """The fields of one BTF map definition, as written in the source (0 = not given)."""

    # values_offset: byte offset of the ``values`` member, -1 if absent
    # values_kind: "maps" or "progs" when ``values`` is present
    _fields = ('name', 'type', 'key_size', 'value_size', 'max_entries', 'map_flags',
               'numa_node', 'map_extra', 'pinning', 'key_type_id', 'value_type_id', 'inner',
               'values_offset', 'values_kind', 'given')

    def __init__(self, name, type=0, key_size=0, value_size=0, max_entries=0, map_flags=0,
                 numa_node=0, map_extra=0, pinning=0, key_type_id=0, value_type_id=0,
                 inner=None, values_offset=-1, values_kind="", given=None):
        self.name = name
        self.type = type
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.map_flags = map_flags
        self.numa_node = numa_node
        self.map_extra = map_extra
        self.pinning = pinning
        self.key_type_id = key_type_id
        self.value_type_id = value_type_id
        self.inner = inner
        self.values_offset = values_offset
        self.values_kind = values_kind
        self.given = set() if given is None else given


def _kind_name(t: object) -> str:
    return type(t).__name__


def _get(btf, tid: int, what: str):
    try:
        return btf[tid]
    except (BTFError, LookupError) as e:
        raise ELFError(f"{what}: bad BTF type id {tid}: {e}") from None


def _resolve(btf, tid: int, what: str) -> int:
    try:
        return btf.resolve(tid)
    except (BTFError, LookupError) as e:
        raise ELFError(f"{what}: cannot resolve BTF type {tid}: {e}") from None


def _sizeof(btf, tid: int, what: str) -> int:
    try:
        return btf.sizeof(tid)
    except (BTFError, LookupError, ValueError) as e:
        raise ELFError(f"{what}: cannot size BTF type {tid}: {e}") from None


def _int_field(btf, tid: int, what: str) -> int:
    """Value of an ``int (*name)[N]`` or ``enum { X = N } name`` member."""
    t = _get(btf, _resolve(btf, tid, what), what)
    kind = _kind_name(t)
    if kind in ("Enum", "Enum64"):
        vals = getattr(t, "values", None) or getattr(t, "members", None) or []
        if not vals:
            raise ELFError(f"{what}: enum-encoded field has no value")
        v = vals[0]
        return int(getattr(v, "value", v[1] if isinstance(v, tuple) else 0))
    if kind != "Ptr":
        raise ELFError(f"{what}: expected 'int (*{what.rsplit('.', 1)[-1]})[N]', got {kind}")
    arr = _get(btf, t.type, what)
    if _kind_name(arr) != "Array":
        raise ELFError(f"{what}: pointer target is {_kind_name(arr)}, expected an array")
    return int(arr.nelems)


def _type_field(btf, tid: int, what: str) -> tuple[int, int]:
    """(target type id, its size) for a ``T *key`` member."""
    t = _get(btf, _resolve(btf, tid, what), what)
    if _kind_name(t) != "Ptr":
        raise ELFError(f"{what}: expected a pointer ('__type(...)'), got {_kind_name(t)}")
    if _kind_name(_get(btf, _resolve(btf, t.type, what), what)) == "Fwd":
        # clang emits only a declaration for a type reached solely through an inner map's
        # definition; its size is unknown (the kernel would get 0 and say EINVAL)
        raise ELFError(f"{what}: the type is only declared in the object's BTF; use it "
                       "elsewhere too (a map of its own, say) so clang emits its layout")
    return t.type, _sizeof(btf, t.type, what)


def parse_map_def(btf, type_id: int, name: str, *, inner: bool = False) -> BTFMapDef:
    """Decode the map definition struct ``type_id`` (a VAR's type) into a :class:`BTFMapDef`."""
    sid = _resolve(btf, type_id, name)
    st = _get(btf, sid, name)
    if _kind_name(st) not in ("Struct",):
        raise ELFError(f"map {name!r}: definition is a {_kind_name(st)}, expected a struct")
    d = BTFMapDef(name)
    members = list(st.members)
    for i, m in enumerate(members):
        mname = m.name
        what = f"map {name!r}.{mname}"
        if mname in d.given:
            raise ELFError(f"{what}: field given twice")
        d.given.add(mname)
        if mname in _INT_FIELDS:
            val = _int_field(btf, m.type, what)
            if mname == "type":
                d.type = val
            elif mname == "map_flags":
                d.map_flags = val
            else:
                if mname in ("key_size", "value_size") and getattr(d, mname) not in (0, val):
                    raise ELFError(f"{what}: {val} conflicts with the size of the "
                                   f"{mname[:-5]} type ({getattr(d, mname)})")
                setattr(d, mname, val)
        elif mname == "map_extra":
            d.map_extra = _int_field(btf, m.type, what)
        elif mname in ("key", "value"):
            tid, size = _type_field(btf, m.type, what)
            size_attr = mname + "_size"
            if getattr(d, size_attr) not in (0, size):
                raise ELFError(f"{what}: type size {size} conflicts with "
                               f"{size_attr}={getattr(d, size_attr)}")
            setattr(d, size_attr, size)
            setattr(d, mname + "_type_id", tid)
        elif mname == "values":
            if i != len(members) - 1:
                raise ELFError(f"{what}: 'values' must be the last field")
            if inner:
                raise ELFError(f"{what}: inner maps cannot hold maps (multi-level map-in-map)")
            _values_field(btf, m, d, what)
        else:
            raise ELFError(f"{what}: unknown map definition field {mname!r}")
    if d.pinning not in (PIN_NONE, PIN_BY_NAME):
        raise ELFError(f"map {name!r}: unsupported pinning {d.pinning}")
    _record_type_convention(d)
    return d


def _record_type_convention(d: BTFMapDef) -> None:
    """cilium/ebpf's convention, which Go projects' objects rely on: a ring buffer, arena
    or perf event array may name its record type with ``__type(value, T)`` for code
    generators (bpf2go), and a perf event array may leave out its sizes.  The kernel takes
    no value size for the first (perf arrays: a 4-byte CPU key and 4-byte fd value), so,
    as cilium/ebpf does, the size goes and the type id stays for decoders.  libbpf refuses
    such objects with EINVAL, so no object it loads changes."""
    if d.type in _NO_VALUE and d.value_type_id and "value_size" not in d.given:
        d.value_size = 0
    elif d.type == _PERF_EVENT_ARRAY:
        if d.value_type_id and "value_size" not in d.given:
            d.value_size = 4
        d.key_size = d.key_size or 4
        d.value_size = d.value_size or 4


def _values_field(btf, m, d: BTFMapDef, what: str) -> None:
    """Decode ``T *values[]``: an inner map definition or a program array."""
    arr = _get(btf, _resolve(btf, m.type, what), what)
    if _kind_name(arr) != "Array":
        raise ELFError(f"{what}: expected an array of pointers, got {_kind_name(arr)}")
    ptr = _get(btf, _resolve(btf, arr.type, what), what)
    if _kind_name(ptr) != "Ptr":
        raise ELFError(f"{what}: array element is {_kind_name(ptr)}, expected a pointer")
    target_id = _resolve(btf, ptr.type, what)
    target = _get(btf, target_id, what)
    if d.value_size not in (0, 4):
        raise ELFError(f"{what}: value_size must be 4 for maps of maps/programs")
    d.value_size = 4
    d.values_offset = m.offset_bits // 8 if hasattr(m, "offset_bits") else m.offset // 8
    kind = _kind_name(target)
    if kind == "FuncProto":
        if d.type not in (0, _PROG_ARRAY):
            raise ELFError(f"{what}: function slots need a BPF_MAP_TYPE_PROG_ARRAY")
        d.values_kind = "progs"
    elif kind == "Struct":
        if d.type not in (0, *_MAP_IN_MAP):
            raise ELFError(f"{what}: inner map definitions need ARRAY_OF_MAPS/HASH_OF_MAPS")
        d.values_kind = "maps"
        d.inner = parse_map_def(btf, target_id, d.name + ".inner", inner=True)
    else:
        raise ELFError(f"{what}: slot type is {kind}, expected a map struct or a function")
