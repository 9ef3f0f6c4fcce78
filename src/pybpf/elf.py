"""A minimal reader of ELF64 little-endian relocatable objects, enough for BPF ``.o`` files.

Why not pyelftools: importing it costs about 29 ms here, more than the whole 15 ms start-up
budget of ``pybpf.load()``; a BPF object needs only sections, one symbol table and REL(A)
relocations, which fit in this module.  Every read is bounds-checked; malformed input
raises :class:`pybpf.errors.ELFError` and nothing else.
"""

from __future__ import annotations

import os
import struct
from collections import namedtuple

from .errors import ELFError

__all__ = ["ELFFile", "Section", "Symbol", "Relocation", "EM_BPF",
           "SHT_PROGBITS", "SHT_SYMTAB", "SHT_STRTAB", "SHT_RELA", "SHT_NOBITS", "SHT_REL",
           "SHF_WRITE", "SHF_ALLOC", "SHF_EXECINSTR",
           "STB_LOCAL", "STB_GLOBAL", "STB_WEAK",
           "STT_NOTYPE", "STT_OBJECT", "STT_FUNC", "STT_SECTION", "STT_FILE",
           "STV_DEFAULT", "STV_INTERNAL", "STV_HIDDEN",
           "SHN_UNDEF", "SHN_ABS", "SHN_COMMON"]

EM_BPF = 247
ET_REL = 1

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_NOBITS, SHT_REL, SHT_SYMTAB_SHNDX = 8, 9, 18
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4

STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN = 0, 1, 2

SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFF00, 0xFFF1, 0xFFF2, 0xFFFF

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_REL = struct.Struct("<QQ")
_RELA = struct.Struct("<QQq")
_MAX_SECTIONS = 1 << 16
_MAX_NAME = 4096


class Section(namedtuple("Section", "index name type flags offset size link info addralign "
                         "entsize data")):
    """One section header plus its bytes (empty for SHT_NOBITS; ``size`` still holds the size)."""

    __slots__ = ()


class Symbol(namedtuple("Symbol", "index name value size bind type visibility shndx")):
    """One symbol table entry; ``shndx`` is the resolved section index (extended indices too)."""

    __slots__ = ()


class Relocation(namedtuple("Relocation", "offset symbol type addend", defaults=(0,))):
    """One REL/RELA entry: ``offset`` in the target section, ``symbol`` index, ``type``."""

    __slots__ = ()


def _cstr(table: bytes, off: int, what: str) -> str:
    """The NUL-terminated string at ``off`` of a string table."""
    if off == 0:
        return ""
    if off >= len(table):
        raise ELFError(f"{what}: string offset {off} outside string table of {len(table)} bytes")
    end = table.find(b"\0", off, off + _MAX_NAME)
    if end < 0:
        raise ELFError(f"{what}: unterminated string at offset {off}")
    try:
        return table[off:end].decode()
    except UnicodeDecodeError:
        raise ELFError(f"{what}: name at offset {off} is not valid UTF-8") from None


class ELFFile:
    """A parsed ELF64 LE object: ``sections``, ``symbols`` and per-section relocations."""

    def __init__(self, data: bytes, machine: int | None = EM_BPF):
        self.data = bytes(data)
        self.machine = 0
        self.type = 0
        self.sections: list[Section] = []
        self.symbols: list[Symbol] = []
        self._parse(machine)
        self._by_name = {}
        for s in self.sections:
            self._by_name.setdefault(s.name, s)

    @classmethod
    def from_file(cls, path: str | os.PathLike, machine: int | None = EM_BPF) -> ELFFile:
        """Read and parse the file at ``path``."""
        with open(path, "rb") as f:
            return cls(f.read(), machine)

    # -- lookups ---------------------------------------------------------------------------

    def section(self, name: str) -> Section | None:
        """The first section called ``name``, or None."""
        return self._by_name.get(name)

    def section_at(self, index: int) -> Section:
        """The section with header index ``index``."""
        if not 0 <= index < len(self.sections):
            raise ELFError(f"section index {index} out of range (have {len(self.sections)})")
        return self.sections[index]

    def symbol(self, index: int) -> Symbol:
        """The symbol with table index ``index``."""
        if not 0 <= index < len(self.symbols):
            raise ELFError(f"symbol index {index} out of range (have {len(self.symbols)})")
        return self.symbols[index]

    def relocation_sections(self) -> dict[int, Section]:
        """Map a target section index to the REL/RELA section that patches it."""
        out = {}
        for s in self.sections:
            if s.type in (SHT_REL, SHT_RELA) and 0 < s.info < len(self.sections):
                out[s.info] = s
        return out

    def relocations(self, sec: Section) -> list[Relocation]:
        """Decode a REL or RELA section, checking symbol indices."""
        if sec.type == SHT_REL:
            fmt, rela = _REL, False
        elif sec.type == SHT_RELA:
            fmt, rela = _RELA, True
        else:
            raise ELFError(f"section {sec.name!r} is not a relocation section")
        if sec.entsize not in (0, fmt.size):
            raise ELFError(f"section {sec.name!r}: entry size {sec.entsize} != {fmt.size}")
        if len(sec.data) % fmt.size:
            raise ELFError(f"section {sec.name!r}: size {len(sec.data)} not a multiple "
                           f"of {fmt.size}")
        out = []
        nsyms = len(self.symbols)
        for entry in fmt.iter_unpack(sec.data):
            sym, typ = entry[1] >> 32, entry[1] & 0xFFFFFFFF
            if sym >= nsyms:
                raise ELFError(f"section {sec.name!r}: relocation against symbol {sym}, "
                               f"table has {nsyms}")
            out.append(Relocation(entry[0], sym, typ, entry[2] if rela else 0))
        return out

    # -- parsing ---------------------------------------------------------------------------

    def _slice(self, off: int, size: int, what: str) -> bytes:
        if off < 0 or size < 0 or off + size > len(self.data):
            raise ELFError(f"{what}: range [{off}, {off + size}) outside file of "
                           f"{len(self.data)} bytes")
        return self.data[off:off + size]

    def _parse(self, machine: int | None) -> None:
        d = self.data
        if len(d) < _EHDR.size:
            msg = _not_elf(d)
            raise ELFError(msg if "C source" in msg else
                           f"not an ELF file: {len(d)} bytes, shorter than an ELF header")
        (ident, etype, emach, _ver, _entry, _phoff, shoff, _flags, _ehsize, _phentsize,
         _phnum, shentsize, shnum, shstrndx) = _EHDR.unpack_from(d)
        if ident[:4] != b"\x7fELF":
            raise ELFError(_not_elf(d))
        if ident[4] != 2:
            raise ELFError("not a 64-bit ELF file (only ELFCLASS64 is supported)")
        if ident[5] != 1:
            raise ELFError("not a little-endian ELF file (only ELFDATA2LSB is supported)")
        self.machine, self.type = emach, etype
        if machine is not None and emach != machine:
            raise ELFError(f"ELF machine is {emach}, expected {machine} (EM_BPF); "
                           "compile with clang -target bpf")
        if shoff == 0:
            return
        if shentsize != _SHDR.size:
            raise ELFError(f"section header size {shentsize}, expected {_SHDR.size}")
        first = _SHDR.unpack(self._slice(shoff, _SHDR.size, "section header 0"))
        if shnum == 0:
            shnum = first[5]          # extended numbering: real count in sh_size of header 0
        if shstrndx == SHN_XINDEX:
            shstrndx = first[6]       # ... and the real string table index in its sh_link
        if shnum > _MAX_SECTIONS:
            raise ELFError(f"too many sections: {shnum}")
        table = self._slice(shoff, shnum * _SHDR.size, "section header table")
        raw = list(_SHDR.iter_unpack(table))
        if not 0 <= shstrndx < len(raw) and shnum:
            raise ELFError(f"section name table index {shstrndx} out of range")
        names = b""
        if shnum:
            h = raw[shstrndx]
            if h[1] != SHT_NOBITS:
                names = self._slice(h[4], h[5], "section name table")
        for i, (nm, typ, flags, _addr, off, size, link, info, align, entsz) in enumerate(raw):
            name = _cstr(names, nm, f"section {i}")
            if typ in (SHT_NOBITS, SHT_NULL):
                data = b""
            else:
                data = self._slice(off, size, f"section {i} ({name!r})")
            self.sections.append(Section(i, name, typ, flags, off, size, link, info,
                                         align, entsz, data))
        self._parse_symbols()

    def _parse_symbols(self) -> None:
        symtabs = [s for s in self.sections if s.type == SHT_SYMTAB]
        if not symtabs:
            return
        if len(symtabs) > 1:
            raise ELFError("more than one symbol table")
        st = symtabs[0]
        if st.entsize not in (0, _SYM.size):
            raise ELFError(f"symbol table entry size {st.entsize}, expected {_SYM.size}")
        if len(st.data) % _SYM.size:
            raise ELFError(f"symbol table size {len(st.data)} not a multiple of {_SYM.size}")
        strtab = self.section_at(st.link)
        if strtab.type != SHT_STRTAB:
            raise ELFError(f"symbol table links to section {st.link}, not a string table")
        xindex = b""
        for s in self.sections:
            if s.type == SHT_SYMTAB_SHNDX and s.link == st.index:
                xindex = s.data
        nsec = len(self.sections)
        for i, (nm, info, other, shndx, value, size) in enumerate(_SYM.iter_unpack(st.data)):
            name = _cstr(strtab.data, nm, f"symbol {i}")
            if shndx == SHN_XINDEX:
                if 4 * i + 4 > len(xindex):
                    raise ELFError(f"symbol {i} ({name!r}): extended section index missing")
                shndx = int.from_bytes(xindex[4 * i:4 * i + 4], "little")
                if shndx >= nsec:
                    raise ELFError(f"symbol {i} ({name!r}): section index {shndx} out of range")
            elif shndx < SHN_LORESERVE and shndx >= nsec:
                raise ELFError(f"symbol {i} ({name!r}): section index {shndx} out of range")
            self.symbols.append(Symbol(i, name, value, size, info >> 4, info & 0xF,
                                       other & 0x3, shndx))


def _not_elf(data: bytes) -> str:
    """Why bytes are not an object, with the likely fix when they are C source."""
    head = bytes(data[:4096])
    text = head and all(32 <= c < 127 or c in (9, 10, 13) for c in head)
    if text and (b"#include" in head or b"SEC(" in head or head.lstrip()[:2] in (b"/*", b"//")):
        return ("not an ELF object but C source: compile it first with pybpf.compile(), or "
                "pass the .bpf.c path to pybpf.load(), which compiles it through the cache")
    return "not an ELF file (bad magic)"
