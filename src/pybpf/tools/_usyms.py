"""Function symbols of a user binary by file offset, read with struct from the ELF
tables directly: pyelftools takes ~0.3 s over libc's symbols, which the uprobe tools
(gethostlatency, bashreadline, funccount...) would pay at every start.  64-bit
little-endian ELF only; anything else falls back to pybpf.links.symbols."""

from __future__ import annotations

import struct

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_PHDR = struct.Struct("<IIQQQQQQ")
_SYM = struct.Struct("<IBBHQQ")
SHT_SYMTAB, SHT_DYNSYM, PT_LOAD = 2, 11, 1
STT_FUNC, STT_GNU_IFUNC = 2, 10


def functions(path: str) -> dict[str, tuple[int, int]]:
    """name -> (file offset, size) of every defined function (.symtab wins over .dynsym,
    a global over a local), as pybpf.links.symbols.elf_symbols sees them."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return _fallback(path)
    (_, _, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
     _) = _EHDR.unpack_from(data)
    loads = []
    for i in range(phnum):
        ptype, _, off, vaddr, _, _, memsz, _ = _PHDR.unpack_from(data, phoff + i * phentsize)
        if ptype == PT_LOAD:
            loads.append((vaddr, memsz, off))
    sections = [_SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    out: dict[str, tuple[int, int]] = {}
    binding: dict[str, int] = {}
    for want in (SHT_DYNSYM, SHT_SYMTAB):
        for _, stype, _, _, off, size, link, _, _, entsize in sections:
            if stype != want or not entsize:
                continue
            stroff = sections[link][4]
            for i in range(size // entsize):
                name_off, info, _, shndx, value, symsize = _SYM.unpack_from(data, off + i * entsize)
                if not value or shndx == 0 or (info & 0xF) not in (STT_FUNC, STT_GNU_IFUNC):
                    continue
                end = data.index(b"\0", stroff + name_off)
                name = data[stroff + name_off:end].decode(errors="replace")
                bind = info >> 4
                if name in binding and binding[name] == 1 and bind != 1:
                    continue
                for vaddr, memsz, foff in loads:
                    if vaddr <= value < vaddr + memsz:
                        out[name] = (value - vaddr + foff, symsize)
                        binding[name] = bind
                        break
    return out


def _fallback(path: str) -> dict[str, tuple[int, int]]:
    from ..links import symbols
    return {n: (s.offset, s.size) for n, s in symbols.elf_symbols(path).items()
            if s.type in ("STT_FUNC", "STT_GNU_IFUNC")}


def offset(path: str, name: str, table: dict | None = None) -> int:
    """The file offset of function ``name`` in ``path``; a clear error if absent."""
    table = functions(path) if table is None else table
    if name not in table:
        from .. import errors
        raise errors.NotFoundError(2, "uprobe", f"no function {name!r} in {path}")
    return table[name][0]
