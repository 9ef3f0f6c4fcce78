"""Parsing: one pass over a BPF ELF object that fills an :class:`~.spec.ObjectSpec`
(programs and their relocations, BTF, legacy and BTF-defined maps, global data).

Kept apart from :mod:`.spec` (the model a user inspects and changes) the way aya keeps
object parsing apart from loading; :meth:`ObjectSpec.from_bytes` is the entry point.
"""

from __future__ import annotations

import struct

from .. import elf as E
from .._sys.uapi import MapFlag, MapType
from ..errors import BTFError, ELFError
from . import globaldata as G
from .btfmaps import parse_map_def
from .iproute2 import parse_tail
from .sections import parse_section
from .spec import MapSpec, ObjectSpec, ProgramSpec, Reloc, RelocKind

_LD_IMM64, _CALL = 0x18, 0x85
PSEUDO_CALL, PSEUDO_FUNC = 1, 4
_LEGACY_DEF = struct.Struct("<5I")


class Builder:
    """One pass over an ELF file filling an :class:`ObjectSpec`."""

    def __init__(self, spec: ObjectSpec, f: E.ELFFile):
        self.spec, self.f = spec, f
        self.rels = f.relocation_sections()
        self.text_idx = -1
        self.prog_secs: list[E.Section] = []
        self.data_secs: list[E.Section] = []
        self.maps_idx = self.legacy_idx = self.arena_idx = -1
        self.arena_map = ""             # the arena map that holds the __arena globals
        self.by_pos: dict[tuple[int, int], ProgramSpec] = {}
        self.map_at: dict[tuple[int, int], str] = {}
        self.values_off: dict[str, int] = {}

    def build(self) -> None:
        s, f = self.spec, self.f
        if f.type != 1:
            raise ELFError(f"ELF type {f.type} is not a relocatable object (ET_REL)")
        lic = f.section("license")
        if lic is not None:
            s.license = _decode(lic.data.split(b"\0", 1)[0], "license")
        s.no_license = lic is None
        ver = f.section("version")
        if ver is not None:
            if len(ver.data) != 4:
                raise ELFError(f"'version' section is {len(ver.data)} bytes, expected 4")
            s.kern_version = int.from_bytes(ver.data, "little")
        self._load_btf()
        self._classify()
        if s.btf is not None:
            G.fixup_datasecs(s.btf, f)
        s.externs = G.collect_externs(s.btf, f)
        self._programs()
        tails = self._legacy_maps()
        self._btf_maps()
        self._data_maps()
        if self.arena_idx >= 0:          # __arena globals: the arena map's (object/arena.py)
            from .arena import bind_globals
            self.arena_map = bind_globals(s, G.data_map(s.btf, f, f.sections[self.arena_idx],
                                                        s.name))
        self._struct_ops_maps()
        self._relocations()
        if tails is not None:
            from .iproute2 import resolve
            resolve(s, tails, f.data)

    def _load_btf(self) -> None:
        sec = self.f.section(".BTF")
        if sec is None:
            return
        from ..btf import Spec
        try:
            self.spec.btf = Spec.parse(sec.data)
        except BTFError:
            raise
        except (ValueError, LookupError, struct.error) as e:
            raise BTFError(f".BTF: {e}") from None
        ext = self.f.section(".BTF.ext")
        if ext is not None:
            from ..btf.ext import parse_ext
            self.spec.btf_ext = parse_ext(ext.data, self.spec.btf)

    def _classify(self) -> None:
        for sec in self.f.sections:
            n = sec.name
            if n == ".maps":
                self.maps_idx = sec.index
            elif n == "maps":
                self.legacy_idx = sec.index
            elif sec.type == E.SHT_PROGBITS and sec.flags & E.SHF_EXECINSTR and sec.size:
                if n == ".text":
                    self.text_idx = sec.index
                self.prog_secs.append(sec)
            elif G.is_data_section(sec):
                self.data_secs.append(sec)
            elif n == ".addr_space.1" and sec.size:
                self.arena_idx = sec.index

    def _programs(self) -> None:
        s, f = self.spec, self.f
        idx = {sec.index for sec in self.prog_secs}
        for sym in f.symbols:
            if sym.type != E.STT_FUNC or sym.shndx not in idx:
                continue
            sec = f.sections[sym.shndx]
            off, size = sym.value, sym.size
            if off % 8 or size % 8 or size == 0 or off + size > len(sec.data):
                raise ELFError(f"function {sym.name!r} in {sec.name!r}: bad range "
                               f"[{off}, {off + size}) in a section of {len(sec.data)} bytes")
            is_sub = sec.index == self.text_idx
            # with legacy SEC("maps"), the loaders of that era (tc, Falco's libscap) took a
            # whole section as the program and never looked at its symbol's binding
            if not is_sub and sym.bind == E.STB_LOCAL and self.legacy_idx < 0:
                raise ELFError(f"program {sym.name!r} in {sec.name!r} is static; "
                               "entry programs must be global")
            name = sym.name
            if is_sub and sym.bind == E.STB_LOCAL and name in s.subprograms \
                    and not s.subprograms[name].global_binding:
                # a linked object (bpftool gen object) keeps each input's static functions:
                # two files' static helper of one name, both in .text; calls bind by offset
                name = f"{name}@{off}"
            if name in s.programs or name in s.subprograms or not name:
                raise ELFError(f"duplicate or empty function name {sym.name!r}")
            p = ProgramSpec(name, sec.name, off, sec.data[off:off + size],
                            license=s.license, kern_version=s.kern_version, subprogram=is_sub,
                            global_binding=sym.bind != E.STB_LOCAL,
                            hidden=sym.bind != E.STB_LOCAL and sym.visibility in
                            (E.STV_HIDDEN, E.STV_INTERNAL))
            if not is_sub:
                # SEC("?name"): like "name", but not loaded unless asked for (libbpf); with
                # legacy SEC("maps"), libbpf 0.x's prefix rules (SEC("xdp_ttl") is XDP)
                info = parse_section(sec.name[1:] if sec.name.startswith("?") else sec.name,
                                     legacy=self.legacy_idx >= 0)
                p.autoload = not sec.name.startswith("?")
                p.sec_info = info
                if info is not None:
                    p.type, p.expected_attach_type = info.prog_type, info.expected_attach_type
                    p.sleepable, p.xdp_frags = info.sleepable, info.xdp_frags
                s.programs[p.name] = p
            else:
                s.subprograms[p.name] = p
            self.by_pos[(sec.index, off)] = p

    def _legacy_maps(self) -> dict | None:
        """Maps of SEC("maps"); returns the iproute2 fields (id, pinning, inner_id,
        inner_idx) of those that have any, by map name (None: no legacy maps)."""
        if self.legacy_idx < 0:
            return None
        sec = self.f.sections[self.legacy_idx]
        syms = [y for y in self.f.symbols if y.shndx == self.legacy_idx and
                y.bind != E.STB_LOCAL and y.type in (E.STT_OBJECT, E.STT_NOTYPE)]
        if not syms:
            return None
        tails: dict = {}
        uniform = len({y.size for y in syms}) == 1
        for y in syms:
            size = y.size or len(sec.data) // len(syms)
            raw = sec.data[y.value:y.value + size]
            if y.value + size > len(sec.data) or size < 16:
                raise ELFError(f"legacy map {y.name!r}: definition of {size} bytes at "
                               f"{y.value} does not fit section 'maps'")
            t, k, v, n, fl = _LEGACY_DEF.unpack((raw + bytes(20))[:20])
            tail = parse_tail(y.name, raw[20:], uniform)
            self._add_map(MapSpec(y.name, _maptype(t), k, v, n, fl, section="maps",
                                  section_offset=y.value, kernel_name=y.name[:15]))
            if tail is not None:
                tails[y.name] = tail
        return tails

    def _btf_maps(self) -> None:
        if self.maps_idx < 0:
            return
        btf = self.spec.btf
        if btf is None:
            raise ELFError("section '.maps' needs BTF, but the object has no .BTF section")
        ds = G.find_datasec(btf, ".maps")
        if ds is None:
            raise ELFError("no BTF DATASEC for section '.maps'")
        for v in ds.vars:
            var = btf[v.type]
            if type(var).__name__ != "Var":
                raise ELFError(f".maps: DATASEC entry {v.type} is not a variable")
            if var.linkage == 0:
                # clang addresses static maps through the section symbol plus an offset;
                # libbpf refuses them, and so do we rather than guess
                raise ELFError(f"map {var.name!r} is static: BTF-defined maps must be global "
                               "(drop 'static' from its definition)")
            d = parse_map_def(btf, var.type, var.name)
            self._add_map(_from_def(d, v.offset))
            self.values_off[d.name] = d.values_offset
        self._map_slots()

    def _add_map(self, m: MapSpec) -> None:
        if m.name in self.spec.maps:
            raise ELFError(f"duplicate map name {m.name!r}")
        self.spec.maps[m.name] = m
        sec_idx = self.maps_idx if m.section == ".maps" else self.legacy_idx
        self.map_at[(sec_idx, m.section_offset)] = m.name

    def _map_slots(self) -> None:
        """Initial slots of map-in-map and program arrays from ``.rel.maps``."""
        rel = self.rels.get(self.maps_idx)
        if rel is None:
            return
        ds = G.find_datasec(self.spec.btf, ".maps")
        spans = [(v.offset, v.offset + v.size, self.spec.btf[v.type].name) for v in ds.vars]
        for r in self.f.relocations(rel):
            sym = self.f.symbol(r.symbol)
            owner = next((n for lo, hi, n in spans if lo <= r.offset < hi), None)
            m = self.spec.maps.get(owner or "")
            d_off = r.offset - m.section_offset if m else -1
            vals = self.values_off.get(owner or "", -1)
            if m is None or vals < 0 or d_off < vals or (d_off - vals) % 8:
                raise ELFError(f".rel.maps: relocation at {r.offset} is not a 'values' slot")
            slot = (d_off - vals) // 8
            if m.type == MapType.PROG_ARRAY:
                if sym.type != E.STT_FUNC:
                    raise ELFError(f"map {m.name!r} slot {slot}: {sym.name!r} is no program")
                m.contents[slot] = sym.name
            else:
                target = self.map_at.get((sym.shndx, sym.value))
                if target is None or sym.shndx != self.maps_idx:
                    raise ELFError(f"map {m.name!r} slot {slot}: {sym.name!r} is not a map")
                m.contents[slot] = target

    def _data_maps(self) -> None:
        s = self.spec
        for sec in self.data_secs:
            m = G.data_map(s.btf, self.f, sec, s.name)
            m_spec = MapSpec(sec.name, MapType.ARRAY, 4, m.size, 1, m.flags,
                             section=sec.name, kernel_name=m.kernel_name, data=m.data,
                             value_type_id=m.datasec_id)
            m_spec.variables = G.bind_vars(m.variables, m_spec)
            self._add_data_map(m_spec, sec.index)
        kc = G.kconfig_map(s.btf, s.externs, s.name)
        if kc is not None:
            m_spec = MapSpec(".kconfig", MapType.ARRAY, 4, len(kc.data), 1, kc.flags,
                             section=".kconfig", kernel_name=kc.kernel_name, data=kc.data,
                             value_type_id=kc.datasec_id)
            m_spec.variables = G.bind_vars(kc.variables, m_spec)
            self._add_data_map(m_spec, -2)

    def _struct_ops_maps(self) -> None:
        if any(sec.name.lstrip("?").startswith(".struct_ops") for sec in self.f.sections):
            from .structops import collect     # only objects with struct_ops maps
            collect(self.spec, self.f, self.by_pos, self.rels)

    def _add_data_map(self, m: MapSpec, sec_idx: int) -> None:
        if m.name in self.spec.maps:
            raise ELFError(f"duplicate map name {m.name!r}")
        self.spec.maps[m.name] = m
        self.map_at[(sec_idx, -1)] = m.name
        for name, var in m.variables.items():
            cur = self.spec.globals.get(name)
            if cur is None or (cur.static and not var.static):
                self.spec.globals[name] = var

    def _relocations(self) -> None:
        data_names = {sec.index: sec.name for sec in self.data_secs
                      if sec.name in self.spec.maps}
        for sec in self.prog_secs:
            progs = sorted((p for (i, _), p in self.by_pos.items() if i == sec.index),
                           key=lambda p: p.section_offset)
            seen: set[int] = set()
            rel = self.rels.get(sec.index)
            for r in self.f.relocations(rel) if rel is not None else ():
                p = _owner(progs, r.offset)
                if p is None:
                    continue           # outside any function (e.g. an overridden weak one)
                seen.add(r.offset)
                p.relocations.append(self._reloc(sec, p, r, data_names))
            for p in progs:
                self._implicit_calls(sec, p, seen)
                p.relocations.sort(key=lambda x: x.offset)

    def _reloc(self, sec: E.Section, p: ProgramSpec, r: E.Relocation,
               data_names: dict[int, str]) -> Reloc:
        f = self.f
        sym = f.symbol(r.symbol)
        off = r.offset - p.section_offset
        insn = p.instructions[off:off + 8]
        if r.offset % 8 or len(insn) < 8:
            raise ELFError(f"{sec.name!r}: relocation at bad instruction offset {r.offset}")
        code, regs = insn[0], insn[1]
        imm = int.from_bytes(insn[4:8], "little", signed=True)
        where = f"program {p.name!r} insn {off // 8}"
        if sym.shndx == E.SHN_UNDEF and sym.name:
            ext = self.spec.externs.get(sym.name)
            if ext is None:
                raise ELFError(f"{where}: unknown extern {sym.name!r}")
            if code == _CALL:
                return Reloc(off, RelocKind.KFUNC, sym.name, sym.name)
            _need_ldimm64(code, off, p, where)
            if ext.kind == "kconfig":
                return Reloc(off, RelocKind.KCONFIG, ".kconfig", sym.name, ".kconfig",
                             ext.offset + imm)
            return Reloc(off, RelocKind.KSYM, sym.name, sym.name)
        if code == _CALL:
            if regs >> 4 != PSEUDO_CALL or sym.shndx != self.text_idx:
                raise ELFError(f"{where}: call relocation against {sym.name!r} is not a "
                               "bpf-to-bpf call into .text")
            target_off = sym.value + (imm + 1) * 8
            return Reloc(off, RelocKind.CALL, self._func_at(self.text_idx, target_off, where),
                         sym.name, ".text", target_off)
        _need_ldimm64(code, off, p, where)
        if sym.shndx == self.text_idx and self.text_idx >= 0:
            if regs >> 4 != PSEUDO_FUNC and sym.type not in (E.STT_FUNC, E.STT_SECTION):
                raise ELFError(f"{where}: bad reference into .text ({sym.name!r})")
            target_off = sym.value + imm
            return Reloc(off, RelocKind.FUNC_ADDR,
                         self._func_at(self.text_idx, target_off, where), sym.name, ".text",
                         target_off)
        if sym.shndx in (self.maps_idx, self.legacy_idx) and sym.shndx >= 0:
            # a static map has no symbol: clang points at the section and puts the
            # map's offset in imm (taking sym.value alone would bind the first map)
            at = sym.value + (imm if sym.type == E.STT_SECTION else 0)
            name = self.map_at.get((sym.shndx, at))
            if name is None:
                static = " (a static map? drop 'static' from its definition)" \
                    if sym.type == E.STT_SECTION else ""
                raise ELFError(f"{where}: no map at offset {at} of "
                               f"{f.sections[sym.shndx].name!r}{static}")
            return Reloc(off, RelocKind.MAP, name, sym.name, f.sections[sym.shndx].name)
        if sym.shndx in data_names:
            name = data_names[sym.shndx]
            return Reloc(off, RelocKind.DATA, name, sym.name, name, sym.value + imm)
        if sym.shndx == self.arena_idx >= 0:
            return Reloc(off, RelocKind.DATA, self.arena_map, sym.name, ".addr_space.1",
                         sym.value + imm)
        target = f.sections[sym.shndx].name if sym.shndx < len(f.sections) else "?"
        # gobpf's "maps/<name>": libbpf (any version) and tc read only "maps" and ".maps"
        hint = (" (a map in a section of its own, as Go loaders write them: libbpf reads "
                "maps from SEC(\".maps\") or legacy SEC(\"maps\") only)"
                if target.startswith("maps/") else "")
        raise ELFError(f"{where}: relocation against {sym.name!r} in unsupported section "
                       f"{target!r}{hint}")

    def _implicit_calls(self, sec: E.Section, p: ProgramSpec, seen: set[int]) -> None:
        """Calls to a static function of the same section carry no ELF relocation."""
        ins = p.instructions
        codes = bytes(memoryview(ins)[::8])
        i = codes.find(b"\x85")
        while i >= 0:
            off = i * 8
            if ins[off + 1] >> 4 == PSEUDO_CALL and p.section_offset + off not in seen:
                imm = int.from_bytes(ins[off + 4:off + 8], "little", signed=True)
                target = p.section_offset + off + (imm + 1) * 8
                where = f"program {p.name!r} insn {i}"
                p.relocations.append(Reloc(off, RelocKind.CALL,
                                           self._func_at(sec.index, target, where), "",
                                           sec.name, target))
            i = codes.find(b"\x85", i + 1)

    def _func_at(self, sec_idx: int, off: int, where: str) -> str:
        p = self.by_pos.get((sec_idx, off))
        if p is None:
            raise ELFError(f"{where}: no function starts at offset {off} of "
                           f"{self.f.sections[sec_idx].name!r}")
        return p.name


def _owner(progs: list[ProgramSpec], off: int) -> ProgramSpec | None:
    for p in progs:
        if p.section_offset <= off < p.section_offset + len(p.instructions):
            return p
    return None


def _need_ldimm64(code: int, off: int, p: ProgramSpec, where: str) -> None:
    if code != _LD_IMM64 or off + 16 > len(p.instructions):
        raise ELFError(f"{where}: relocation on opcode {code:#x}, expected ld_imm64")


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ELFError(f"{what}: not valid UTF-8") from None


def _maptype(t: int) -> MapType | int:
    try:
        return MapType(t)
    except ValueError:
        return t


def _from_def(d, offset: int) -> MapSpec:
    """A MapSpec from a parsed BTF map definition."""
    m = MapSpec(d.name, _maptype(d.type), d.key_size, d.value_size, d.max_entries,
                d.map_flags, d.numa_node, d.map_extra, d.pinning, d.key_type_id,
                d.value_type_id, section=".maps", section_offset=offset,
                kernel_name=d.name[:15])
    if d.numa_node:
        m.flags |= MapFlag.NUMA_NODE
    if m.type in (MapType.RINGBUF, MapType.USER_RINGBUF):
        from ..mapcheck import ringbuf_size
        m.max_entries = ringbuf_size(m.max_entries)     # as libbpf, at open
    if d.inner is not None:
        m.inner = _from_def(d.inner, 0)
        m.inner.section = ""
    return m
