"""Address -> symbol name, for kernel addresses (kallsyms) and user addresses (a process's
mappings and the ELF symbols of the mapped files), as bcc's ``ksym``/``sym`` report them."""

from __future__ import annotations

import bisect
import os

from .. import errors
from ..links import symbols


class KernelSymbols:
    """Sorted kallsyms, read once on first use."""

    def __init__(self, path: str = "/proc/kallsyms"):
        self.path = path
        self._addrs: list[int] | None = None
        self._names: list[tuple[str, str]] = []
        self._by_name: dict[str, int] = {}

    def _load(self) -> None:
        rows = sorted((addr, name, mod) for name, addr, kind, mod in
                      symbols.kallsyms(self.path) if addr and kind.lower() in "tw")
        self._addrs = [r[0] for r in rows]
        self._names = [(r[1], r[2]) for r in rows]
        self._by_name = {}
        for addr, name, _ in rows:
            self._by_name.setdefault(name, addr)

    def resolve(self, addr: int) -> tuple[str, int, str] | None:
        """(name, offset, module) of the function containing ``addr``."""
        if self._addrs is None:
            self._load()
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        name, mod = self._names[i]
        return name, addr - self._addrs[i], mod

    def address(self, name: str) -> int:
        if self._addrs is None:
            self._load()
        return self._by_name.get(name, -1)


class _Binary:
    def __init__(self, path: str):
        funcs = sorted((s.address, s.size, name) for name, s in
                       symbols.elf_symbols(path).items() if s.type in ("STT_FUNC",
                                                                       "STT_GNU_IFUNC"))
        self.starts = [f[0] for f in funcs]
        self.funcs = funcs
        from elftools.elf.elffile import ELFFile
        with open(path, "rb") as f:
            elf = ELFFile(f)
            self.segments = [(s["p_vaddr"], s["p_memsz"], s["p_offset"])
                             for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            self.pie = elf["e_type"] == "ET_DYN"

    def lookup(self, vaddr: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self.starts, vaddr) - 1
        if i < 0:
            return None
        start, size, name = self.funcs[i]
        if size and vaddr >= start + size:
            return None
        return name, vaddr - start

    def offset_to_vaddr(self, off: int) -> int | None:
        for vaddr, memsz, foff in self.segments:
            if foff <= off < foff + memsz:
                return off - foff + vaddr
        return None


class UserSymbols:
    """Symbols of processes, caching each binary's table."""

    def __init__(self):
        self._bins: dict[str, _Binary | None] = {}

    def _binary(self, path: str) -> _Binary | None:
        if path not in self._bins:
            try:
                self._bins[path] = _Binary(path)
            except (OSError, errors.PybpfError, ValueError, KeyError):
                self._bins[path] = None
        return self._bins[path]

    def resolve(self, addr: int, pid: int) -> tuple[str, int, str] | None:
        """(name, offset, binary path) of ``addr`` in process ``pid``."""
        try:
            with open(f"/proc/{pid}/maps") as f:
                maps = f.readlines()
        except OSError:
            return None
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) < 6:
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if not lo <= addr < hi:
                continue
            path = parts[5].strip()
            if not path.startswith("/"):
                return None
            b = self._binary(f"/proc/{pid}/root{path}" if os.path.exists(
                f"/proc/{pid}/root{path}") else path)
            if b is None:
                return None
            vaddr = b.offset_to_vaddr(addr - lo + int(parts[2], 16))
            if vaddr is None:
                return None
            hit = b.lookup(vaddr)
            return (hit[0], hit[1], path) if hit else None
        return None


def format_symbol(hit, show_module: bool, show_offset: bool, addr: int,
                  unknown: bytes = b"[unknown]", kernel: bool = False) -> bytes:
    """bcc's spelling: ``name+0x1a [module]``; the module is "kernel" for vmlinux and a
    binary's base name for user code, as bcc prints them."""
    if hit is None:
        return unknown
    name, off, mod = hit
    out = name
    if show_offset:
        out += f"+0x{off:x}"
    if show_module:
        mod = (mod or "kernel") if kernel else os.path.basename(mod or "")
        if mod:
            out += f" [{mod}]"
    return out.encode()
