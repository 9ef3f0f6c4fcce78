"""iproute2's conventions for tc objects, mapped onto what the loader already does.

``tc`` reads ``struct bpf_elf_map`` (include/bpf_elf.h) in SEC("maps"): after the five
fields of ``struct bpf_map_def`` come ``id`` (a label), ``pinning`` (PIN_OBJECT_NS: a
directory of the object's own, PIN_GLOBAL_NS: the shared ``globals``), ``inner_id`` (this
map-in-map's inner maps look like the map labelled so) and ``inner_idx`` (this map goes
into slot ``inner_idx`` of every map-in-map whose ``inner_id`` is its ``id``).  Programs in
sections ``"ID/KEY"`` are tail calls: tc puts them at index KEY of the program array
labelled ID once loaded; ``BPF_ANNOTATE_KV_PAIR`` gives a map BTF key and value types.
Here all of that becomes the spec's ordinary fields (a map's
``inner`` template, ``contents`` slots, ``pinning``/``pin_name``), so loading and plans
need nothing new.
"""

from __future__ import annotations

import struct

from ..errors import ELFError
from .._sys.uapi import MapType

__all__ = ["ElfMapTail", "parse_tail", "tail_call_slot", "resolve", "object_dir", "tc_sections",
           "PIN_NONE", "PIN_OBJECT_NS", "PIN_GLOBAL_NS"]

PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS = 0, 1, 2
_TAIL = struct.Struct("<4I")
_NO_SLOT = 0xFFFFFFFF          # inner_idx = -1: a map labelled as a template only
_MAP_IN_MAP = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)


class ElfMapTail(tuple):
    """``struct bpf_elf_map``'s fields past ``struct bpf_map_def``."""

    __slots__ = ()

    def __new__(cls, id=0, pinning=0, inner_id=0, inner_idx=0):
        return tuple.__new__(cls, (id, pinning, inner_id, inner_idx))

    id = property(lambda s: s[0])
    pinning = property(lambda s: s[1])
    inner_id = property(lambda s: s[2])
    inner_idx = property(lambda s: s[3])


def parse_tail(name: str, tail: bytes, uniform: bool = False) -> ElfMapTail | None:
    """The iproute2 fields of a legacy map definition ``tail`` (its bytes past the first
    20); None when there are none (all zero).  Only iproute2's layout (36 bytes, or an
    older, shorter prefix of it) means something there: other non-zero bytes are options
    this loader would drop, so refused.  ``uniform``: every map of the section has this
    size, as tc requires of the shorter layouts."""
    if not any(tail):
        return None
    if uniform and len(tail) < _TAIL.size and len(tail) % 4 == 0:
        # an older iproute2's shorter struct bpf_elf_map (id and pinning, no inner_id and
        # inner_idx): tc zero-fills the missing fields (bpf_fetch_maps_end), so do we
        tail = tail + bytes(_TAIL.size - len(tail))
    if len(tail) != _TAIL.size:
        raise ELFError(f"legacy map {name!r}: {len(tail)} bytes past struct bpf_map_def are "
                       "not zero (unknown options; of longer layouts only iproute2's 36-byte "
                       "struct bpf_elf_map is understood)")
    t = ElfMapTail(*_TAIL.unpack(tail))
    if t.pinning not in (PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS):
        # other values name a directory in /etc/iproute2/bpf_pinning: tc's own config
        raise ELFError(f"legacy map {name!r}: iproute2 pinning {t.pinning} is a custom "
                       "entry of tc's bpf_pinning file, which pybpf does not read "
                       "(PIN_NONE=0, PIN_OBJECT_NS=1 and PIN_GLOBAL_NS=2 are understood)")
    return t


def _c_int(s: str) -> int | None:
    """An unsigned number as scanf's %i reads it (0x.. hex, 0.. octal), or None."""
    s = s.strip()
    if not s.isascii():
        return None
    try:
        if s[:2] in ("0x", "0X"):
            return int(s[2:], 16) if s[2:] else None
        if len(s) > 1 and s[0] == "0":
            return int(s[1:], 8)
        return int(s, 10) if s.isdigit() else None
    except ValueError:
        return None


def tail_call_slot(section: str) -> tuple[int, int] | None:
    """(map id, key) of a tail-call section ``"ID/KEY"`` (``__section_tail(ID, KEY)``);
    None for any other section name."""
    a, sep, b = section.partition("/")
    if not sep:
        return None
    map_id, key = _c_int(a), _c_int(b)
    if map_id is None or key is None or map_id > 0xFFFFFFFF or key > 0xFFFFFFFF:
        return None
    return map_id, key


def object_dir(data: bytes) -> str:
    """Where PIN_OBJECT_NS maps of the object ``data`` pin, under the pin root: the SHA-1
    of its bytes in hex, the name tc gives its per-object directory."""
    import hashlib                      # only objects with PIN_OBJECT_NS maps get here
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def resolve(spec, tails: dict, data: bytes) -> None:
    """Turn ``tails`` (map name -> :class:`ElfMapTail`) and the object's "ID/KEY" sections
    into ``spec``'s map templates, slots and pins, as tc would place them."""
    maps = spec.maps
    obj_dir = None
    for name, t in tails.items():
        m = maps[name]
        if t.pinning == PIN_GLOBAL_NS:
            m.pinning = 1                         # by name, directly under the pin root
        elif t.pinning == PIN_OBJECT_NS:
            obj_dir = obj_dir or object_dir(data)
            m.pinning, m.pin_name = 1, f"{obj_dir}/{name}"
    labelled = [(n, t) for n, t in tails.items() if t.id]
    for name, t in tails.items():
        if not t.inner_id:
            continue
        outer = maps[name]
        if outer.type not in _MAP_IN_MAP:
            raise ELFError(f"legacy map {name!r}: inner_id {t.inner_id} on a map of type "
                           f"{getattr(outer.type, 'name', outer.type)}, which holds no maps")
        # tc takes the first map carrying the label as the inner maps' template
        tmpl = next((n for n, u in labelled if u.id == t.inner_id), None)
        if tmpl is None:
            raise ELFError(f"legacy map {name!r}: no map has id {t.inner_id} (its inner_id)")
        outer.inner = _template(maps[tmpl], name)
    for name, t in labelled:
        if t.inner_id or t.inner_idx == _NO_SLOT:
            continue
        for oname, u in tails.items():
            outer = maps[oname]
            if u.inner_id != t.id or outer.type not in _MAP_IN_MAP:
                continue
            if outer.type == MapType.ARRAY_OF_MAPS and t.inner_idx >= outer.max_entries:
                raise ELFError(f"legacy map {name!r}: inner_idx {t.inner_idx} is past the "
                               f"{outer.max_entries} slots of {oname!r}")
            outer.contents[t.inner_idx] = name
    if labelled:
        _tail_calls(spec, labelled)
    if spec.btf is not None:
        _annotated_types(spec)


def _annotated_types(spec) -> None:
    """BTF key/value types of legacy maps from ``BPF_ANNOTATE_KV_PAIR(name, K, V)`` (a
    ``struct ____btf_map_<name> { K key; V value; }``), as tc gives them to the kernel;
    an annotation of another shape or size is ignored, as tc ignores it."""
    btf = spec.btf
    for name, m in spec.maps.items():
        if m.section != "maps" or m.key_type_id or m.value_type_id:
            continue
        try:
            ids = btf.find(f"____btf_map_{name}")
            t = btf[ids[0]] if ids else None
            members = getattr(t, "members", None) or []
            if type(t).__name__ != "Struct" or [x.name for x in members] != ["key", "value"]:
                continue
            k, v = members[0].type, members[1].type
            if btf.sizeof(k) == m.key_size and btf.sizeof(v) == m.value_size:
                m.key_type_id, m.value_type_id = k, v
        except (LookupError, ValueError):
            continue                     # BTF that does not size: no types, as in tc


def _template(m, outer: str):
    """A copy of map spec ``m`` to build ``outer``'s inner_map_fd from (never pinned)."""
    from .spec import MapSpec
    return MapSpec(f"{outer}.inner", m.type, m.key_size, m.value_size, m.max_entries,
                   m.flags, kernel_name=m.kernel_name)


def _tail_calls(spec, labelled: list) -> None:
    """Programs of "ID/KEY" sections: into slot KEY of program array ID; typed like the
    object's other programs when SEC() alone does not say (tc gives them all one type)."""
    typed = {(p.type, p.expected_attach_type): p for p in spec.programs.values()
             if p.sec_info is not None}
    for pname, p in spec.programs.items():
        slot = tail_call_slot(p.section)
        if slot is None or p.sec_info is not None:
            continue                    # a section libbpf knows is never a tail call
        map_id, key = slot
        arr = next((n for n, t in labelled
                    if t.id == map_id and spec.maps[n].type == MapType.PROG_ARRAY), None)
        if arr is None:
            raise ELFError(f"program {pname!r} in tail-call section {p.section!r}: no "
                           f"program array has id {map_id}")
        m = spec.maps[arr]
        if key >= m.max_entries:
            raise ELFError(f"program {pname!r} in tail-call section {p.section!r}: key {key} "
                           f"is past the {m.max_entries} slots of {arr!r}")
        m.contents[key] = pname
        if len(typed) == 1 and not p.type:
            # the type only: the section's other traits (auto-attach) stay the entry's
            like = next(iter(typed.values()))
            p.type, p.expected_attach_type = like.type, like.expected_attach_type


def tc_sections(spec, section: str = "tc") -> dict[str, str]:
    """``sections=`` for :func:`pybpf.load` that loads every program whose SEC() names no
    type libbpf knows (tc objects use "ingress", "egress", any name) as ``section``: what
    ``tc filter add ... bpf obj`` does, which gives all sections its own type."""
    return {n: section for n, p in spec.programs.items() if p.sec_info is None}
