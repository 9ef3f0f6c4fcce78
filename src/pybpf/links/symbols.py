"""Symbols for attach points: ELF symbol -> file offset in user binaries (uprobes, USDT),
shared library lookup by name, and kernel symbols from /proc/kallsyms.

User binaries are read with pyelftools; they are arbitrary (possibly huge) ELF files,
unlike the BPF objects pybpf.elf reads.
"""

from __future__ import annotations

import os
import struct

from .. import errors
from .._record import named_tuple
# finding the binary (a path, $PATH, ld.so.cache) is libpath's: a uprobe tool's start
# needs that and not this module; still importable from here
from .libpath import (LD_SO_CACHE, _is_elf, _ld_so_cache, _ldconfig_p,  # noqa: F401
                      _machine_of, _which, find_library, resolve_path)

TYPE_CHECKING = False
if TYPE_CHECKING:            # annotations only: typing costs a uprobe tool's start
    from typing import BinaryIO, Iterator

__all__ = ["ElfSymbol", "resolve_path", "find_library", "elf_symbols", "symbol_offset",
           "vaddr_to_offset", "kallsyms", "kallsyms_lookup", "syscall_prefix",
           "filter_functions"]

STT_FUNC = "STT_FUNC"
STT_GNU_IFUNC = "STT_LOOS"        # pyelftools' name for STT_GNU_IFUNC (10)


class ElfSymbol(named_tuple("ElfSymbol", "name address size offset type binding")):
    """A symbol of a user binary: virtual address, size, and its offset in the file;
    ``type`` is pyelftools' st_info.type (e.g. STT_FUNC).  A plain named tuple, neither a
    dataclass nor collections.namedtuple: both cost milliseconds on the uprobe tools' start
    path."""

    __slots__ = ()


def _elf_error(path: str, e: Exception) -> errors.ELFError:
    return errors.ELFError(f"{path}: not a readable ELF file ({e})")


def _open_elf(f: BinaryIO, path: str):
    from elftools.common.exceptions import ELFError as _PyElfError
    from elftools.elf.elffile import ELFFile
    try:
        return ELFFile(f)
    except (_PyElfError, struct.error, ValueError) as e:
        raise _elf_error(path, e) from None


def _load_segments(elf) -> list[tuple[int, int, int]]:
    """(vaddr, memsz, offset) of every PT_LOAD segment."""
    return [(s["p_vaddr"], s["p_memsz"], s["p_offset"]) for s in elf.iter_segments()
            if s["p_type"] == "PT_LOAD"]


def vaddr_to_offset(segments: list[tuple[int, int, int]], vaddr: int) -> int | None:
    """The file offset of virtual address ``vaddr``: uprobes are placed by file offset."""
    for seg_vaddr, memsz, offset in segments:
        if seg_vaddr <= vaddr < seg_vaddr + memsz:
            return vaddr - seg_vaddr + offset
    return None


def elf_symbols(path: str) -> dict[str, ElfSymbol]:
    """Defined symbols of a binary by name, from .symtab and .dynsym (.symtab wins).

    Version suffixes (``memcpy@@GLIBC_2.14``) are not part of the names pyelftools gives;
    a name defined twice (local + global) keeps the global one.
    """
    out: dict[str, ElfSymbol] = {}
    try:
        with open(path, "rb") as f:
            elf = _open_elf(f, path)
            segs = _load_segments(elf)
            for secname in (".dynsym", ".symtab"):
                sec = elf.get_section_by_name(secname)
                if sec is None or not hasattr(sec, "iter_symbols"):
                    continue
                for sym in sec.iter_symbols():
                    if not sym.name or sym["st_shndx"] == "SHN_UNDEF" or not sym["st_value"]:
                        continue
                    info = sym["st_info"]
                    off = vaddr_to_offset(segs, sym["st_value"])
                    if off is None:
                        continue
                    old = out.get(sym.name)
                    if old is not None and old.binding == "STB_GLOBAL" and \
                            info["bind"] != "STB_GLOBAL":
                        continue
                    out[sym.name] = ElfSymbol(sym.name, sym["st_value"], sym["st_size"], off,
                                              info["type"], info["bind"])
    except OSError as e:
        raise errors.NotFoundError(e.errno or 2, "uprobe", f"cannot read {path}: "
                                   f"{e.strerror}") from None
    except (struct.error, ValueError, KeyError, AttributeError) as e:
        if isinstance(e, errors.PybpfError):
            raise
        raise _elf_error(path, e) from None
    return out


def symbol_offset(path: str, symbol: str, *, symbols: dict[str, ElfSymbol] | None = None) -> int:
    """The file offset of function ``symbol`` in binary ``path`` (NotFoundError if absent)."""
    syms = symbols if symbols is not None else elf_symbols(path)
    sym = syms.get(symbol)
    if sym is None:
        raise errors.NotFoundError(2, "uprobe", f"symbol {symbol!r} not found in {path}")
    if sym.type == STT_GNU_IFUNC:
        # The symbol is the resolver that picks an implementation at load time; a probe
        # on it fires once per process, not per call.  When this process has the library
        # mapped, the dynamic linker has already picked: probe what it picked.
        picked = ifunc_target_offset(path, symbol)
        if picked is not None:
            return picked
        raise errors.AttachError(22, "uprobe", f"{symbol!r} in {path} is an IFUNC (its address "
                                 "is the resolver); probe the implementation (e.g. "
                                 f"__{symbol}_avx2) instead")
    return sym.offset


def ifunc_target_offset(path: str, symbol: str) -> int | None:
    """File offset of the implementation IFUNC ``symbol`` resolves to on this machine, if
    ``path`` is already mapped into this process (so no foreign code runs), else None."""
    real = os.path.realpath(path)
    try:
        with open("/proc/self/maps") as f:
            maps = [ln.split() for ln in f]
    except OSError:
        return None
    if not any(len(m) >= 6 and os.path.realpath(m[5]) == real for m in maps):
        return None
    import ctypes
    try:
        addr = ctypes.cast(getattr(ctypes.CDLL(real), symbol), ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None
    for m in maps:
        if len(m) < 6 or os.path.realpath(m[5]) != real:
            continue
        lo, hi = (int(x, 16) for x in m[0].split("-"))
        if addr is not None and lo <= addr < hi:
            return addr - lo + int(m[2], 16)
    return None


# ---- kernel symbols ------------------------------------------------------------------

def kallsyms(path: str = "/proc/kallsyms") -> Iterator[tuple[str, int, str, str]]:
    """(name, address, type letter, module or "") for every kernel symbol."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise errors.NotSupportedError("kallsyms", f"cannot read {path}: {e.strerror}") from None
    with f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            mod = parts[3].strip(b"[]").decode() if len(parts) > 3 else ""
            yield parts[2].decode(errors="replace"), int(parts[0], 16), parts[1].decode(), mod


def kallsyms_lookup(names: set[str], path: str = "/proc/kallsyms") -> dict[str, int]:
    """Address of each of ``names`` found in kallsyms (0 when kptr_restrict hides them)."""
    found: dict[str, int] = {}
    for name, addr, _, _ in kallsyms(path):
        if name in names and name not in found:
            found[name] = addr
    return found


def syscall_prefix(machine: str | None = None) -> str:
    """The prefix of syscall entry functions on this architecture (``__x64_sys_``)."""
    if machine is None:
        import platform
        machine = platform.machine()
    m = machine
    return {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_", "s390x": "__s390x_sys_",
            "riscv64": "__riscv_sys_", "ppc64le": "sys_", "ppc64": "sys_",
            "i686": "__ia32_sys_"}.get(m, "sys_")


def filter_functions(pattern: str, tracefs_root: str | None = None) -> list[str]:
    """Kernel functions matching glob ``pattern`` that ftrace can hook.

    From tracefs available_filter_functions (only those can carry an fprobe); without it,
    text symbols from kallsyms.  Module functions are listed as ``name [module]`` there.
    """
    import fnmatch
    names: list[str] = []
    roots = [tracefs_root] if tracefs_root else ["/sys/kernel/tracing",
                                                 "/sys/kernel/debug/tracing"]
    for root in roots:
        p = os.path.join(root, "available_filter_functions")
        try:
            with open(p) as f:
                for line in f:
                    name = line.split(" ", 1)[0].strip()
                    if name and fnmatch.fnmatchcase(name, pattern):
                        names.append(name)
            return sorted(set(names))
        except OSError:
            continue
    for name, _, kind, _ in kallsyms():
        if kind in "tT" and fnmatch.fnmatchcase(name, pattern):
            names.append(name)
    return sorted(set(names))
