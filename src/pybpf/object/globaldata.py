"""Global data (``.rodata*``, ``.data*``, ``.bss*``, ``.kconfig``) and ``__kconfig``/``__ksym`` externs.

Also the DATASEC fix-up libbpf performs: clang leaves some DATASEC sizes and global
variable offsets at 0; they are filled in from ELF section sizes and symbol values.
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs milliseconds at start-up; annotations only
    from typing import Any

from .._record import Record
from .. import elf as E
from .._sys.uapi import MapFlag
from ..errors import BTFError, ELFError

__all__ = ["GlobalVar", "Extern", "is_data_section", "find_datasec", "fixup_datasecs",
           "collect_externs", "data_map", "kconfig_map", "bind_vars", "kernel_map_name"]

MAX_DATA_SIZE = 64 << 20          # refuse absurd .bss sizes instead of allocating them
_EXTERN_SECS = (".kconfig", ".ksyms")
_NAME_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")


class GlobalVar(Record):
    """A variable of a global data map; reads and writes go to the map's ``data``."""

    # kind: "int", "bool", "char", "float", "enum", "" (other)
    # btf: types the variable's id names
    _fields = ('name', 'section', 'offset', 'size', 'type_id', 'static', 'kind', 'signed',
               'map', 'btf')
    _norepr = ('map', 'btf')
    _nocmp = ('map', 'btf')

    def __init__(self, name, section, offset, size, type_id=0, static=False, kind="",
                 signed=False, map=None, btf=None):
        self.name = name
        self.section = section
        self.offset = offset
        self.size = size
        self.type_id = type_id
        self.static = static
        self.kind = kind
        self.signed = signed
        self.map = map
        self.btf = btf

    def get(self) -> bytes:
        """The variable's current initial bytes."""
        return bytes(self.map.data[self.offset:self.offset + self.size])

    @property
    def value(self) -> Any:
        """Decoded value, typed by BTF (int, bool, float, str for char arrays, tuple for
        other arrays, a ctypes instance for structs); without BTF, an int for integer
        types, else the raw bytes."""
        raw = self.get()
        if self.btf is not None and self.type_id:
            from ..typedvalue import Codec
            return Codec(self.btf).decode(self.type_id, raw)
        if self.kind in ("int", "bool", "enum", "char") and self.size in (1, 2, 4, 8):
            return int.from_bytes(raw, "little", signed=self.signed)
        if self.kind == "float" and self.size in (4, 8):
            return struct.unpack("<f" if self.size == 4 else "<d", raw)[0]
        return raw

    @value.setter
    def value(self, v: Any) -> None:
        self.set(v)

    def set(self, value: Any) -> None:
        """Encode ``value`` into the initial data, checked against the variable's BTF type
        (TypeError for a wrong type, OverflowError for a value that does not fit)."""
        if self.btf is not None and self.type_id:
            from ..typedvalue import Codec
            raw = Codec(self.btf).encode(self.type_id, value, self.name)
        else:
            from .values import encode_value    # only when a variable is set
            raw = encode_value(value, self.size, self.signed, self.name)
        self.map.data[self.offset:self.offset + self.size] = raw


class Extern(Record):
    """An ``extern`` the loader must supply: a ``__kconfig`` value or a ``__ksym``."""

    # kind: "kconfig" or "ksym"
    # btf_id: the VAR or FUNC in the object's BTF
    # type_id: resolved type (0 = void: a typeless ksym)
    # is_func: a kfunc
    # offset: kconfig: offset in the .kconfig map
    # kcfg_type: kconfig: "bool", "char", "tristate", "int", "char_array"
    _fields = ('name', 'kind', 'btf_id', 'type_id', 'weak', 'is_func', 'size', 'offset',
               'kcfg_type', 'signed')

    def __init__(self, name, kind, btf_id, type_id=0, weak=False, is_func=False, size=0,
                 offset=0, kcfg_type="", signed=False):
        self.name = name
        self.kind = kind
        self.btf_id = btf_id
        self.type_id = type_id
        self.weak = weak
        self.is_func = is_func
        self.size = size
        self.offset = offset
        self.kcfg_type = kcfg_type
        self.signed = signed

    @property
    def typeless(self) -> bool:
        """A ``const void sym __ksym`` that only needs an address."""
        return self.kind == "ksym" and not self.is_func and self.type_id == 0


class DataMapInfo(Record):
    """What the object spec needs to make a MapSpec for one data section."""

    _fields = ('size', 'flags', 'kernel_name', 'data', 'datasec_id', 'variables')

    def __init__(self, size, flags, kernel_name, data, datasec_id, variables):
        self.size = size
        self.flags = flags
        self.kernel_name = kernel_name
        self.data = data
        self.datasec_id = datasec_id
        self.variables = variables


def is_data_section(sec: E.Section) -> bool:
    """True for sections libbpf turns into global data maps."""
    n = sec.name
    if sec.type == E.SHT_NOBITS:
        return n == ".bss" or n.startswith(".bss.")
    if sec.type != E.SHT_PROGBITS or sec.flags & E.SHF_EXECINSTR or not sec.size:
        return False
    return n in (".data", ".rodata") or n.startswith((".data.", ".rodata."))


def _kind(t: Any) -> str:
    return type(t).__name__


def find_datasec(btf: Any, name: str) -> Any:
    """The DATASEC called ``name``, or None."""
    tid = find_datasec_id(btf, name)
    return btf[tid] if tid else None


def find_datasec_id(btf: Any, name: str) -> int:
    """Type id of the DATASEC called ``name``, or 0."""
    if btf is None:
        return 0
    for tid in btf.find(name):
        if _kind(btf[tid]) == "Datasec":
            return tid
    return 0


def fixup_datasecs(btf: Any, f: E.ELFFile) -> None:
    """Fill DATASEC sizes and global variable offsets from the ELF (libbpf does the same)."""
    syms: dict[str, E.Symbol] = {}
    for y in f.symbols:
        if y.type == E.STT_OBJECT and y.bind in (E.STB_GLOBAL, E.STB_WEAK) and y.name:
            syms.setdefault(y.name, y)
    for sec in f.sections:
        ds = find_datasec(btf, sec.name) if sec.name and sec.name not in _EXTERN_SECS else None
        if ds is None:
            continue
        if ds.size == 0:
            ds.size = sec.size
        for vsi in ds.vars:
            var = btf[vsi.type]
            if _kind(var) != "Var" or int(var.linkage) != 1:   # only global allocated vars
                continue
            y = syms.get(var.name)
            if y is None or y.shndx != sec.index:
                raise ELFError(f"DATASEC {ds.name!r}: no ELF symbol for variable {var.name!r}")
            vsi.offset = y.value
            if y.visibility in (E.STV_HIDDEN, E.STV_INTERNAL):
                var.linkage = type(var.linkage)(0) if not isinstance(var.linkage, int) else 0
            if vsi.offset + vsi.size > ds.size:
                raise ELFError(f"DATASEC {ds.name!r}: variable {var.name!r} at {vsi.offset}"
                               f"+{vsi.size} overruns the section ({ds.size} bytes)")


def kernel_map_name(obj_name: str, sec_name: str) -> str:
    """libbpf's kernel name for an internal map: object-name prefix + section name, 15 chars."""
    sfx_len = min(max(len(sec_name), 7), 15)
    pfx_len = 0 if "." in sec_name[1:] else min(15 - sfx_len, len(obj_name))
    return "".join(c if c in _NAME_OK else "_" for c in obj_name[:pfx_len] + sec_name[:sfx_len])


def _type_kind(btf: Any, tid: int) -> tuple[str, bool]:
    """("int"/"bool"/"char"/"float"/"enum"/"", signed) for a variable's type."""
    try:
        t = btf[btf.resolve(tid)] if tid else None
    except (BTFError, LookupError):
        return "", False
    k = _kind(t)
    if k == "Int":
        enc = int(getattr(t, "encoding", 0))
        if enc & 4:
            return "bool", False
        if enc & 2 and t.size == 1:
            return "char", bool(enc & 1)
        return "int", bool(enc & 1)
    if k == "Float":
        return "float", False
    if k in ("Enum", "Enum64"):
        return "enum", bool(getattr(t, "signed", False))
    return "", False


def _vars_from_btf(btf: Any, ds: Any, sec_name: str) -> list[GlobalVar]:
    out = []
    for vsi in ds.vars:
        var = btf[vsi.type]
        if _kind(var) != "Var":
            continue
        kind, signed = _type_kind(btf, var.type)
        out.append(GlobalVar(var.name, sec_name, vsi.offset, vsi.size, var.type,
                             int(var.linkage) == 0, kind, signed, btf=btf))
    return out


def _vars_from_symbols(f: E.ELFFile, sec: E.Section) -> list[GlobalVar]:
    return [GlobalVar(y.name, sec.name, y.value, y.size, 0, y.bind == E.STB_LOCAL)
            for y in f.symbols
            if y.shndx == sec.index and y.type == E.STT_OBJECT and y.name and y.size]


def data_map(btf: Any, f: E.ELFFile, sec: E.Section, obj_name: str) -> DataMapInfo:
    """Initial bytes, flags, kernel name and variable table of one data section."""
    if sec.size > MAX_DATA_SIZE:
        raise ELFError(f"section {sec.name!r}: {sec.size} bytes is too large for a data map")
    data = bytearray(sec.size) if sec.type == E.SHT_NOBITS else bytearray(sec.data)
    ds_id = find_datasec_id(btf, sec.name)
    if ds_id:
        variables = _vars_from_btf(btf, btf[ds_id], sec.name)
    else:
        variables = _vars_from_symbols(f, sec)
    for v in variables:
        if v.offset < 0 or v.offset + v.size > sec.size:
            raise ELFError(f"section {sec.name!r}: variable {v.name!r} at {v.offset}+{v.size} "
                           f"outside the section ({sec.size} bytes)")
    flags = 0
    if sec.name.startswith(".rodata"):
        flags |= MapFlag.RDONLY_PROG
    if any(not v.static for v in variables) and ds_id:
        flags |= MapFlag.MMAPABLE
    return DataMapInfo(sec.size, int(flags), kernel_map_name(obj_name, sec.name), data, ds_id,
                       variables)


def bind_vars(variables: list[GlobalVar], m: Any) -> dict[str, GlobalVar]:
    """Attach variables to their map, by name (first of equal names wins)."""
    out: dict[str, GlobalVar] = {}
    for v in variables:
        v.map = m
        out.setdefault(v.name, v)
    return out


def _is_func(btf: Any, name: str) -> bool:
    from ..btf.types import Kind
    try:
        return bool(btf.find(name, Kind.FUNC))
    except (BTFError, LookupError):
        return False


def collect_externs(btf: Any, f: E.ELFFile) -> dict[str, Extern]:
    """Externs from undefined symbols, classified by the DATASEC (.kconfig/.ksyms) holding them."""
    undef = [y for y in f.symbols if y.shndx == E.SHN_UNDEF and y.name and
             y.bind in (E.STB_GLOBAL, E.STB_WEAK)]
    if not undef:
        return {}
    where: dict[str, tuple[str, int]] = {}
    if btf is not None:
        for sec in _EXTERN_SECS:
            ds = find_datasec(btf, sec)
            for vsi in ds.vars if ds is not None else ():
                where.setdefault(btf[vsi.type].name, (sec, vsi.type))
    out: dict[str, Extern] = {}
    for y in undef:
        if y.name not in where:
            if btf is not None and _is_func(btf, y.name):
                # clang declares an unknown name implicitly when a macro (PT_REGS_RC without
                # __TARGET_ARCH_*) or helper declaration is missing: libbpf "failed to
                # find BTF for extern"
                raise ELFError(f"function {y.name!r} is defined nowhere in this object: "
                               "a function of another object (link them first, e.g. bpftool "
                               "gen object), or a macro or helper the build did not define "
                               "(clang declared it implicitly); kernel functions need __ksym")
            raise ELFError(f"extern {y.name!r} is defined nowhere in this object and is no "
                           "__kconfig/__ksym extern (link the objects that define it first, "
                           "e.g. bpftool gen object; or declare it __ksym/__kconfig and "
                           "compile with -g)")
        sec, vid = where[y.name]
        out[y.name] = _extern(btf, y, sec, vid)
    _layout_kconfig(btf, out)
    return out


def _extern(btf: Any, y: E.Symbol, sec: str, vid: int) -> Extern:
    t = btf[vid]
    weak = y.bind == E.STB_WEAK
    if sec == ".ksyms":
        if _kind(t) == "Func":
            return Extern(y.name, "ksym", vid, t.type, weak, is_func=True)
        tid = btf.resolve(t.type) if t.type else 0
        return Extern(y.name, "ksym", vid, tid, weak,
                      size=btf.sizeof(tid) if tid else 0)
    if _kind(t) != "Var":
        raise ELFError(f"kconfig extern {y.name!r} is not a variable")
    tid = btf.resolve(t.type)
    kt, size, signed = _kcfg_type(btf, tid, y.name)
    return Extern(y.name, "kconfig", vid, tid, weak, size=size, kcfg_type=kt, signed=signed)


def _kcfg_type(btf: Any, tid: int, name: str) -> tuple[str, int, bool]:
    t = btf[tid] if tid else None
    k = _kind(t)
    if k == "Int":
        enc = int(getattr(t, "encoding", 0))
        if enc & 4 and t.size == 1:
            return "bool", 1, False
        if enc & 2 and t.size == 1:
            return "char", 1, False
        if t.size in (1, 2, 4, 8):
            return "int", t.size, bool(enc & 1)
    elif k == "Enum" and t.name == "libbpf_tristate" and t.size == 4:
        return "tristate", 4, False
    elif k == "Array":
        elem = btf[btf.resolve(t.type)]
        if _kind(elem) == "Int" and elem.size == 1 and t.nelems:
            return "char_array", t.nelems, False
    raise ELFError(f"kconfig extern {name!r}: unsupported type {k or 'void'}")


def _layout_kconfig(btf: Any, exts: dict[str, Extern]) -> None:
    """Offsets of kconfig externs in libbpf order: alignment desc, size asc, then name."""
    kc = [e for e in exts.values() if e.kind == "kconfig"]
    align = {e.name: (1 if e.kcfg_type == "char_array" else e.size) for e in kc}
    off = 0
    for e in sorted(kc, key=lambda e: (-align[e.name], e.size, e.name)):
        a = align[e.name]
        off = (off + a - 1) // a * a
        e.offset = off
        off += e.size
    ds = find_datasec(btf, ".kconfig")
    if ds is not None:
        end = 0
        for vsi in ds.vars:
            e = exts.get(btf[vsi.type].name)
            if e is not None:
                vsi.offset, vsi.size = e.offset, e.size
                end = max(end, e.offset + e.size)
        ds.size = end


def kconfig_map(btf: Any, exts: dict[str, Extern], obj_name: str) -> DataMapInfo | None:
    """The synthetic ``.kconfig`` map holding kconfig extern values (zeros until loaded)."""
    kc = [e for e in exts.values() if e.kind == "kconfig"]
    if not kc:
        return None
    size = max(e.offset + e.size for e in kc)
    variables = [GlobalVar(e.name, ".kconfig", e.offset, e.size, e.type_id, False,
                           "bool" if e.kcfg_type == "bool" else
                           "int" if e.kcfg_type in ("int", "tristate", "char") else "",
                           e.signed) for e in kc]
    return DataMapInfo(size, int(MapFlag.RDONLY_PROG | MapFlag.MMAPABLE),
                       kernel_map_name(obj_name, ".kconfig"), bytearray(size),
                       find_datasec_id(btf, ".kconfig"), variables)
