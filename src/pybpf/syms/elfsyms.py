"""Function symbols, load segments and identities of user ELF binaries, read fast.

Why not pyelftools here (it reads the binaries for uprobes elsewhere): symbolizing needs
every function of every binary a stack touches, and pyelftools builds a Python object per
symbol: 0.3-0.5 s for libc or python3 on this machine.  One ``struct.iter_unpack`` over a
symbol table does the same in a few milliseconds (bench/bench_syms.py).  pyelftools is still
used for DWARF (``syms/dwarf.py``), which only runs when file:line is asked for.

Only what symbolization needs is read: the ELF header, section headers, ``.symtab`` and
``.dynsym`` with their string tables, PT_LOAD segments, the GNU build-id note and
``.gnu_debuglink``.  Malformed input raises :class:`pybpf.errors.ELFError`, nothing else.
"""

from __future__ import annotations

import bisect
import os
import struct

from .. import errors

SHT_SYMTAB, SHT_NOTE, SHT_DYNSYM, SHT_NOBITS = 2, 7, 11, 8
STT_FUNC, STT_GNU_IFUNC = 2, 10
PT_LOAD = 1
ET_DYN = 3
NT_GNU_BUILD_ID = 3
SHN_UNDEF = 0
_BIND_RANK = {1: 2, 2: 1, 0: 0}      # STB_GLOBAL > STB_WEAK > STB_LOCAL

# (class, byte order) -> (ehdr, shdr, phdr, sym) layouts
_LAYOUTS = {}
for _cls, _bits in ((1, "32"), (2, "64")):
    for _data, _order in ((1, "<"), (2, ">")):
        if _bits == "64":
            _LAYOUTS[(_cls, _data)] = (
                struct.Struct(_order + "16sHHIQQQIHHHHHH"),      # Elf64_Ehdr
                struct.Struct(_order + "IIQQQQIIQQ"),            # Elf64_Shdr
                struct.Struct(_order + "IIQQQQQQ"),              # Elf64_Phdr
                struct.Struct(_order + "IBBHQQ"),                # Elf64_Sym
                64)
        else:
            _LAYOUTS[(_cls, _data)] = (
                struct.Struct(_order + "16sHHIIIIIHHHHHH"),      # Elf32_Ehdr
                struct.Struct(_order + "IIIIIIIIII"),            # Elf32_Shdr
                struct.Struct(_order + "IIIIIIII"),              # Elf32_Phdr
                struct.Struct(_order + "IIIBBH"),                # Elf32_Sym
                32)


class ElfSymbols:
    """The function symbols of one ELF file, sorted by address, and how file offsets map to
    virtual addresses.  ``lookup(vaddr)`` is a binary search."""

    __slots__ = ("path", "starts", "sizes", "names", "segments", "pie", "build_id",
                 "debuglink", "has_symtab", "debug_path")

    def __init__(self, path: str, data: bytes | None = None):
        self.path = path
        self.debug_path: str | None = None      # the separate debug file its table came from
        if data is None:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise errors.ELFError(f"{path}: cannot read ({e.strerror})") from None
        try:
            self._parse(memoryview(data))
        except (struct.error, IndexError, ValueError, UnicodeDecodeError, OverflowError) as e:
            raise errors.ELFError(f"{path}: malformed ELF file ({e})") from None

    def _parse(self, data: memoryview) -> None:
        if len(data) < 16 or bytes(data[:4]) != b"\x7fELF":
            raise errors.ELFError(f"{self.path}: not an ELF file")
        layout = _LAYOUTS.get((data[4], data[5]))
        if layout is None:
            raise errors.ELFError(f"{self.path}: unknown ELF class/byte order")
        ehdr, shdr, phdr, sym, bits = layout
        (_, e_type, _, _, _, e_phoff, e_shoff, _, _, e_phentsize, e_phnum, e_shentsize,
         e_shnum, e_shstrndx) = ehdr.unpack_from(data, 0)
        self.pie = e_type == ET_DYN
        self.segments = []
        if e_phoff and e_phnum:
            if e_phentsize < phdr.size:
                raise ValueError("program header entries too small")
            for i in range(e_phnum):
                f = phdr.unpack_from(data, e_phoff + i * e_phentsize)
                if bits == 64:
                    p_type, _, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = f
                else:
                    p_type, p_offset, p_vaddr, _, p_filesz, p_memsz, _, _ = f
                if p_type == PT_LOAD:
                    self.segments.append((p_vaddr, p_memsz, p_offset, p_filesz))
        sections = []
        if e_shoff and e_shnum:
            if e_shentsize < shdr.size:
                raise ValueError("section header entries too small")
            for i in range(e_shnum):
                f = shdr.unpack_from(data, e_shoff + i * e_shentsize)
                # name, type, flags, addr, offset, size, link, info, addralign, entsize
                sections.append((f[0], f[1], f[4], f[5], f[6], f[9]))
        shstr = sections[e_shstrndx] if 0 < e_shstrndx < len(sections) else None

        def section_name(sec) -> bytes:
            if shstr is None:
                return b""
            start = shstr[2] + sec[0]
            end = bytes(data[start:start + 256]).find(b"\0")
            return bytes(data[start:start + end]) if end >= 0 else b""

        self.build_id = None
        self.debuglink = None
        funcs: dict[int, tuple[int, str]] = {}
        self.has_symtab = False
        for sec in sections:
            _, stype, off, size, link, entsize = sec
            if stype == SHT_NOBITS:
                continue
            if stype == SHT_NOTE and self.build_id is None:
                self.build_id = _build_id(data[off:off + size],
                                          "<" if data[5] == 1 else ">")
            elif stype in (SHT_SYMTAB, SHT_DYNSYM):
                if stype == SHT_SYMTAB:
                    self.has_symtab = True
                if not 0 <= link < len(sections):
                    raise ValueError("symbol table names a bad string table")
                stroff, strsize = sections[link][2], sections[link][3]
                strtab = bytes(data[stroff:stroff + strsize])
                self._symbols(data[off:off + size - size % sym.size], sym, bits, strtab, funcs)
        for sec in sections:
            if sec[1] != SHT_NOBITS and section_name(sec) == b".gnu_debuglink":
                raw = bytes(data[sec[2]:sec[2] + sec[3]])
                self.debuglink = raw.split(b"\0", 1)[0].decode("utf-8", "replace") or None
        funcs.pop(-1, None)
        order = sorted(funcs)
        self.starts = order
        self.sizes = [funcs[a][0] for a in order]
        self.names = [funcs[a][1] for a in order]

    @staticmethod
    def _symbols(raw: memoryview, sym: struct.Struct, bits: int, strtab: bytes,
                 funcs: dict[int, tuple[int, str]]) -> None:
        find = strtab.find
        rank = funcs.setdefault(-1, {})      # address -> preference of the name kept
        for f in sym.iter_unpack(raw):
            if bits == 64:
                name_off, info, _, shndx, value, size = f
            else:
                name_off, value, size, info, _, shndx = f
            if (info & 0xF) not in (STT_FUNC, STT_GNU_IFUNC) or shndx == SHN_UNDEF \
                    or not value:
                continue
            end = find(b"\0", name_off)
            if end < 0:
                continue
            name = strtab[name_off:end]
            # aliases (read, __read, __libc_read, old versions' clock_nanosleep@GLIBC_2.2.5):
            # keep a sized one, then an unversioned name, then a global over a weak over a
            # local binding, then the fewest leading underscores (as bcc shows them)
            pref = (size != 0, b"@" not in name, _BIND_RANK.get(info >> 4, 0),
                    -(len(name) - len(name.lstrip(b"_"))))
            prev = rank.get(value)
            if prev is not None and prev >= pref:
                continue
            rank[value] = pref
            funcs[value] = (size, name.decode("utf-8", "surrogateescape"))

    def lookup(self, vaddr: int) -> tuple[str, int] | None:
        """(name, offset) of the function containing ``vaddr``, or None."""
        i = bisect.bisect_right(self.starts, vaddr) - 1
        if i < 0:
            return None
        start, size = self.starts[i], self.sizes[i]
        if size and vaddr >= start + size:
            return None
        if not size:
            # unsized (hand-written assembly, _init/_fini): up to the next symbol, or a
            # page past the last one
            end = self.starts[i + 1] if i + 1 < len(self.starts) else start + 4096
            if vaddr >= end:
                return None
        return self.names[i], vaddr - start

    def address(self, name: str) -> int | None:
        """The virtual address of the function ``name`` (a linear scan: rarely needed)."""
        try:
            return self.starts[self.names.index(name)]
        except ValueError:
            return None

    def offset_to_vaddr(self, off: int) -> int | None:
        """The virtual address that file offset ``off`` is loaded at."""
        for vaddr, memsz, foff, _ in self.segments:
            if foff <= off < foff + memsz:
                return off - foff + vaddr
        return None

    def __len__(self) -> int:
        return len(self.starts)


def _build_id(note: memoryview, order: str) -> str | None:
    """The GNU build-id in a note section, as hex."""
    pos, hdr = 0, struct.Struct(order + "III")
    while pos + 12 <= len(note):
        namesz, descsz, ntype = hdr.unpack_from(note, pos)
        name_end = pos + 12 + ((namesz + 3) & ~3)
        desc_end = name_end + ((descsz + 3) & ~3)
        if desc_end > len(note) or namesz > len(note) or descsz > len(note):
            return None
        if ntype == NT_GNU_BUILD_ID and bytes(note[pos + 12:pos + 12 + namesz]) == b"GNU\0":
            return bytes(note[name_end:name_end + descsz]).hex()
        pos = desc_end
    return None


def debug_file(binary: ElfSymbols, root: str = "", path: str | None = None) -> str | None:
    """The separate debug file of a binary, where distributions put it: by build-id under
    /usr/lib/debug/.build-id/, else by .gnu_debuglink beside it, in .debug/ beside it or
    under /usr/lib/debug.  ``path`` is the binary's path as its process sees it and
    ``root`` that process's root (/proc/PID/root), so a container's debug files are its own."""
    path = path or binary.path
    cands = []
    if binary.build_id and len(binary.build_id) > 2:
        b = binary.build_id
        cands.append(f"/usr/lib/debug/.build-id/{b[:2]}/{b[2:]}.debug")
    if binary.debuglink:
        d = os.path.dirname(path)
        cands += [os.path.join(d, binary.debuglink), os.path.join(d, ".debug", binary.debuglink),
                  "/usr/lib/debug" + os.path.join(d, binary.debuglink)]
    for c in cands:
        p = root + c
        if os.path.isfile(p):
            return p
    return None
