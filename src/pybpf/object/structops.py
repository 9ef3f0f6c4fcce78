"""struct_ops maps: a kernel struct of callbacks (``struct tcp_congestion_ops``...) filled
with BPF programs, as libbpf reads them from ``SEC(".struct_ops")`` and
``SEC(".struct_ops.link")``.

Parsing (no kernel): each global of such a section becomes a ``BPF_MAP_TYPE_STRUCT_OPS``
:class:`~pybpf.object.spec.MapSpec` whose ``struct_ops`` (:class:`StructOps`) says which
struct and which member holds which program (the section's relocations).  Against the
kernel's BTF, :func:`kernel_layout` builds the value the kernel takes: its
``struct bpf_struct_ops_<name>``, data members copied by name, function pointers
becoming program fds once the programs are loaded (:mod:`.structops_load`).
"""

from __future__ import annotations

from .._record import Record
from .. import elf as E
from .._sys.uapi import MapFlag, MapType, ProgType
from ..btf.kinds import Kind
from ..errors import ELFError, NotFoundError, PybpfError

SECTIONS = (".struct_ops", ".struct_ops.link", "?.struct_ops", "?.struct_ops.link")
VALUE_PREFIX = "bpf_struct_ops_"     # the kernel's value type: struct bpf_struct_ops_<name>


class StructOps(Record):
    """What a struct_ops map holds: the struct (``type_name``, its id in the object's
    BTF), ``programs`` (member name -> program name) and whether it is registered
    through a link (``.struct_ops.link``, ``bpf_map__attach_struct_ops``)."""

    _fields = ('type_name', 'type_id', 'programs', 'link')

    def __init__(self, type_name, type_id, programs=None, link=False):
        self.type_name = type_name
        self.type_id = type_id
        self.programs = {} if programs is None else programs
        self.link = link


class KernelLayout(Record):
    """A struct_ops map as the running kernel takes it: the value type
    (``value_type_id``, ``value`` bytes with data members copied), the struct's id
    (programs' ``attach_btf_id``), and where each program's fd goes
    (``slots``: member -> (byte offset in the value, member index in the kernel struct))."""

    _fields = ('value_type_id', 'type_id', 'value', 'slots', 'dropped')

    def __init__(self, value_type_id, type_id, value, slots, dropped=()):
        self.value_type_id = value_type_id
        self.type_id = type_id
        self.value = value
        self.slots = slots
        self.dropped = dropped      # members the kernel lacks, left out (zero in the object)


def is_struct_ops_section(name: str) -> bool:
    """True for the ELF sections libbpf makes struct_ops maps of."""
    return name in SECTIONS


def collect(spec, f: E.ELFFile, by_pos: dict, rels: dict) -> list:
    """Add the struct_ops MapSpecs of ELF ``f`` to ``spec.maps`` and return them
    (programs already parsed into ``by_pos``: (section index, offset) -> ProgramSpec;
    ``rels``: section index -> its REL section)."""
    from .spec import MapSpec
    from .globaldata import find_datasec
    out = []
    for sec in f.sections:
        if not is_struct_ops_section(sec.name):
            continue
        btf = spec.btf
        if btf is None:
            raise ELFError(f"section {sec.name!r} needs BTF, but the object has no .BTF")
        ds = find_datasec(btf, sec.name)
        if ds is None:
            raise ELFError(f"section {sec.name!r}: no BTF DATASEC describes it")
        data = bytes(sec.data) if sec.type != E.SHT_NOBITS else bytes(sec.size)
        bare = sec.name.lstrip("?")
        maps = []
        for v in ds.vars:
            var = btf[v.type]
            if var.kind != Kind.VAR:
                raise ELFError(f"{sec.name}: DATASEC entry {v.type} is not a variable")
            tid = btf.resolve(var.type)
            t = btf[tid]
            where = f"struct_ops map {var.name!r}"
            if t.kind != Kind.STRUCT or not t.name:
                raise ELFError(f"{where} in {sec.name}: its type is not a named struct "
                               "(struct_ops maps are kernel structs such as "
                               "'struct tcp_congestion_ops')")
            if v.offset + t.size > len(data) or v.offset < 0:
                raise ELFError(f"{where}: {t.size} bytes at offset {v.offset} do not fit "
                               f"section {sec.name} ({len(data)} bytes)")
            m = MapSpec(var.name, MapType.STRUCT_OPS, 4, t.size, 1,
                        MapFlag.LINK if bare == ".struct_ops.link" else 0,
                        value_type_id=tid, section=sec.name, section_offset=v.offset,
                        kernel_name=var.name[:15], data=data[v.offset:v.offset + t.size],
                        autocreate=not sec.name.startswith("?"))
            m.struct_ops = StructOps(t.name, tid, {}, bare == ".struct_ops.link")
            maps.append(m)
        rel = rels.get(sec.index)
        for r in f.relocations(rel) if rel is not None else ():
            _bind(btf, f, sec, maps, by_pos, r)
        out += maps
    for m in out:
        if m.name in spec.maps:
            raise ELFError(f"duplicate map name {m.name!r}")
        spec.maps[m.name] = m
    return out


def _bind(btf, f: E.ELFFile, sec, maps: list, by_pos: dict, r) -> None:
    """One relocation of a struct_ops section: a function pointer member -> a program."""
    m = next((m for m in maps if m.section_offset <= r.offset <
              m.section_offset + m.value_size), None)
    if m is None:
        raise ELFError(f"{sec.name}: relocation at offset {r.offset} is in no struct_ops map")
    off = r.offset - m.section_offset
    t = btf[m.struct_ops.type_id]
    member = next((mb for mb in t.members if mb.offset_bits == off * 8), None)
    where = f"struct_ops map {m.name!r} (struct {t.name})"
    if member is None:
        raise ELFError(f"{where}: relocation at offset {off} starts no member")
    if not _func_ptr(btf, member.type):
        raise ELFError(f"{where}: member {member.name!r} is not a function pointer, "
                       "yet the object points it at a symbol")
    sym = f.symbol(r.symbol)
    prog = by_pos.get((sym.shndx, sym.value)) if sym.shndx < E.SHN_LORESERVE else None
    if prog is None or prog.subprogram:
        raise ELFError(f"{where}: member {member.name!r} names {sym.name or '?'!r}, "
                       "which is not a program of the object")
    if prog.type != ProgType.STRUCT_OPS:
        raise ELFError(f"{where}: member {member.name!r} names program {prog.name!r} of "
                       f"section {prog.section!r}, not a SEC(\"struct_ops/...\") program")
    m.struct_ops.programs[member.name] = prog.name


def _func_ptr(btf, tid: int) -> bool:
    t = btf[btf.resolve(tid)]
    return t.kind == Kind.PTR and btf[btf.resolve(t.type)].kind == Kind.FUNC_PROTO


def essential_name(name: str) -> str:
    """A type name without its CO-RE flavour (``tcp_congestion_ops___v2``)."""
    i = name.find("___")
    return name if i < 0 else name[:i]


def kernel_layout(m, local, kern) -> KernelLayout:
    """Map ``m``'s value as kernel BTF ``kern`` lays it out (``local``: the object's BTF).

    Raises NotFoundError when the kernel has no such struct_ops type, ELFError when the
    object's struct does not fit the kernel's (a member of another kind or size, a
    non-zero member the kernel lacks, a bitfield)."""
    try:
        return _layout(m, local, kern)
    except PybpfError:
        raise
    except (LookupError, ValueError, TypeError, AttributeError, RecursionError) as e:
        # object BTF of an unexpected shape (types of the wrong kind where a struct's
        # members should be): say which map, never a traceback
        raise ELFError(f"struct_ops map {m.name!r}: malformed BTF ({type(e).__name__}: "
                       f"{e})") from None


def _layout(m, local, kern) -> KernelLayout:
    so = m.struct_ops
    if m.data is not None and len(m.data) != m.value_size:
        raise ELFError(f"struct_ops map {m.name!r}: data is {len(m.data)} bytes, its "
                       f"struct {m.value_size}")
    tname = essential_name(so.type_name)
    where = f"struct_ops map {m.name!r} (struct {tname})"
    vids = kern.find(VALUE_PREFIX + tname, Kind.STRUCT)
    tids = kern.find(tname, Kind.STRUCT)
    if not vids or not tids:
        missing = tname if not tids else VALUE_PREFIX + tname
        raise NotFoundError(2, "struct_ops", f"{where}: the kernel's BTF has no struct "
                            f"{missing!r}: this kernel offers no {tname} struct_ops")
    vid, tid = vids[0], tids[0]
    vtype, ktype = kern[vid], kern[tid]
    holder = next((mb for mb in vtype.members if mb.type == tid), None)
    if holder is None:
        raise ELFError(f"{where}: kernel struct {VALUE_PREFIX + tname} holds no "
                       f"struct {tname}")
    base = holder.offset_bits // 8
    value = bytearray(vtype.size)
    slots: dict[str, tuple[int, int]] = {}
    dropped = []
    local_t = local[so.type_id]
    kmembers = {mb.name: (i, mb) for i, mb in enumerate(ktype.members)}
    data = m.data or bytes(m.value_size)
    for mb in local_t.members:
        lo = mb.offset_bits // 8
        size = local.sizeof(mb.type)
        chunk = data[lo:lo + size]
        found = kmembers.get(mb.name)
        if found is None:
            if any(chunk) or mb.name in so.programs:
                raise ELFError(f"{where}: member {mb.name!r} is set, but this kernel's "
                               f"struct {tname} has no such member")
            dropped.append(mb.name)
            continue
        idx, kmb = found
        if mb.bitfield_size or kmb.bitfield_size or mb.offset_bits % 8:
            raise ELFError(f"{where}: member {mb.name!r} is a bitfield (not supported, as "
                           "in libbpf)")
        lt, kt = local[local.resolve(mb.type)], kern[kern.resolve(kmb.type)]
        if lt.kind != kt.kind:
            raise ELFError(f"{where}: member {mb.name!r} is a {lt.kind.name.lower()} here "
                           f"but a {kt.kind.name.lower()} in the kernel")
        ko = base + kmb.offset_bits // 8
        if lt.kind == Kind.PTR:
            if mb.name not in so.programs:
                continue                   # a NULL callback: left zero
            if kern[kern.resolve(kt.type)].kind != Kind.FUNC_PROTO:
                raise ELFError(f"{where}: kernel member {mb.name!r} is not a function "
                               "pointer")
            slots[mb.name] = (ko, idx)
            continue
        ksize = kern.sizeof(kmb.type)
        if ksize != size:
            raise ELFError(f"{where}: member {mb.name!r} is {size} bytes here but "
                           f"{ksize} in the kernel")
        if ko + size > len(value) or lo + size > len(data):
            raise ELFError(f"{where}: member {mb.name!r} does not fit its struct")
        value[ko:ko + size] = chunk
    return KernelLayout(vid, tid, value, slots, tuple(dropped))


def program_targets(maps: dict, layouts: dict) -> dict:
    """program -> (kernel struct id, member index) from every created struct_ops map, as
    programs are loaded with (``attach_btf_id``, ``expected_attach_type``); a program
    bound to two different members (or structs) is refused, as libbpf does."""
    out: dict[str, tuple[int, int]] = {}
    for name, lay in layouts.items():
        so = maps[name].struct_ops
        for member, (_, idx) in lay.slots.items():
            prog = so.programs[member]
            want = (lay.type_id, idx)
            if out.setdefault(prog, want) != want:
                raise ELFError(f"program {prog!r} is the callback of two different "
                               f"struct_ops members (last: {member!r} of map {name!r}); a "
                               "program serves one member of one struct")
    return out


def adjust_autoload(spec) -> None:
    """libbpf's rule: a struct_ops program some map names loads if one of those maps is
    created (``autocreate``), and not otherwise; other programs keep their autoload."""
    used: dict[str, bool] = {}
    for m in spec.maps.values():
        so = getattr(m, "struct_ops", None)
        if so is None:
            continue
        for prog in so.programs.values():
            used[prog] = used.get(prog, False) or m.autocreate
    for name, p in spec.programs.items():
        if name in used:
            p.autoload = used[name]
