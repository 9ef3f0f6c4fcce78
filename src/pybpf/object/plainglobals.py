"""A loaded object's globals as a warm start needs them: :class:`GlobalsMixin`, whose
typed views (``obj.bss``...) load :mod:`.globalview` and the type model on first use, and
C integers and bools encoded and decoded straight from a load plan's type table (a tool's
filter constants, a counter read), so a replayed load imports neither.
"""

from __future__ import annotations


def encode(obj, name: str, value) -> bytes:
    """Checked bytes of ``value`` for global ``name`` of ``obj``, as
    :func:`.globalview.encode` gives them: straight from the plan for a plain integer,
    bool or raw bytes of a replayed object, through the BTF codec otherwise."""
    tid = obj._var(name)[4]
    if tid and obj._spec is None and obj._plan is not None:
        raw = _plain_scalar(obj._plan.get("types") or {}, tid, value)
        if raw is not None:
            return raw
    from .globalview import encode as typed_encode
    return typed_encode(obj, name, value)


_MODIFIERS = (8, 9, 10, 11, 18)   # BTF_KIND_TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG


def _plain_scalar(types: dict, tid: int, value) -> bytes | None:
    """The bytes the Codec would give an int or bool ``value`` for a plain C integer or
    bool, or raw ``bytes`` for anything but a char array, read straight from a plan's type
    table (the tools' filter constants on a warm start, without importing the type model);
    None for anything else or what does not fit (the Codec then encodes it or says what
    is wrong)."""
    t = _resolved(types, tid)
    if t is None:
        return None
    kind, name, _, size, encoding = t[:5]
    if type(value) is bytes:
        if kind == 3:                           # BTF_KIND_ARRAY: not of chars
            e = _resolved(types, t[2])
            if e is None or (e[0] == 1 and e[3] == 1 and (e[1] == "char" or e[4] & 2)):
                return None
        return value + bytes(t[8] - len(value)) if len(value) <= t[8] else None
    if (type(value) is not int and type(value) is not bool) or kind != 1:   # BTF_KIND_INT
        return None
    if encoding & 4:                           # BTF_INT_BOOL: 0 or 1 only
        return bytes([value]) + bytes(size - 1) if value in (0, 1) and size >= 1 else None
    if encoding & 2 or (size == 1 and name == "char") or size not in (1, 2, 4, 8):
        return None                            # a char: the Codec's rules
    signed = bool(encoding & 1)
    bits = size * 8
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return int(value).to_bytes(size, "little", signed=signed) if lo <= value <= hi else None


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


def _resolved(types: dict, tid: int):
    """The plan's entry for ``tid`` past typedefs and qualifiers (None if absent)."""
    t = types.get(tid)
    for _ in range(32):
        if t is None or t[0] not in _MODIFIERS:
            break
        t = types.get(t[2])
    return t


class GlobalsMixin:
    """:class:`~pybpf.object.loader.Object`'s typed views of its globals and maps."""

    # -- typed globals: obj.bss.x, obj.data.y = 1, obj.rodata.z ------------------------
    @property
    def bss(self):
        """``.bss`` variables as attributes, typed by BTF (see :class:`DataSection`)."""
        return self.datasec(".bss")

    @property
    def data(self):
        """``.data`` variables as attributes, typed by BTF; writable after load."""
        return self.datasec(".data")

    @property
    def rodata(self):
        """``.rodata`` (``const volatile``) variables; read-only after load."""
        return self.datasec(".rodata")

    def datasec(self, section: str):
        """The variables of any data section (``.data.custom``, ``.rodata.cfg``...)."""
        if section not in self.maps:
            known = sorted(n for n in self.maps
                           if n.startswith((".data", ".bss", ".rodata", ".kconfig")))
            raise KeyError(f"object {self.name!r} has no {section} section; data sections: "
                           f"{known}")
        from .globalview import DataSection
        return DataSection(self, section)

    def typed_map(self, name: str):
        """Map ``name`` with keys and values decoded by its BTF types (ints, str for
        ``char[N]``, tuples for arrays, ctypes instances for structs); ``obj.maps[name]``
        stays raw bytes.  The view shares the map's fd: close the object, not the view."""
        from .globalview import typed_map
        return typed_map(self, name)
