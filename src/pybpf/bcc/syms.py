"""bcc's ``ksym``/``sym`` answers, on pybpf's one symbolizer (:mod:`pybpf.syms`).

Kept as a thin adapter so the bcc front end and older callers keep their tuple-shaped API:
``resolve`` gives ``(name, offset, module)`` or None.
"""

from __future__ import annotations

import os


class KernelSymbols:
    """Kernel symbols (kallsyms indexed once per boot, plus BPF programs)."""

    def __init__(self, path: str = "/proc/kallsyms"):
        from ..syms.kernel import KALLSYMS, KernelSymbols as _Kernel
        self._k = _Kernel(path, cache=path == KALLSYMS)

    def resolve(self, addr: int) -> tuple[str, int, str] | None:
        """(name, offset, module) of the function containing ``addr``."""
        return self._k.resolve(addr)

    def address(self, name: str) -> int:
        """The address of kernel function ``name``, or -1 (bcc's ``ksymname``)."""
        a = self._k.address(name)
        return -1 if a is None else a


class UserSymbols:
    """Symbols of processes, each binary's table read once."""

    def __init__(self):
        from ..syms import Symbolizer
        self._s = Symbolizer()

    def resolve(self, addr: int, pid: int) -> tuple[str, int, str] | None:
        """(name, offset, binary path) of ``addr`` in process ``pid``."""
        sym = self._s.user(pid, addr)
        return (sym.name, sym.offset, sym.module) if sym else None


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
