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
    return out.encode(errors="surrogateescape")   # names keep their bytes


def demangle(name: str) -> str:
    """A C++ symbol's readable form (``_ZN2ns1fEii`` -> ``ns::f(int, int)``), through the
    system's libstdc++ ``__cxa_demangle`` (the demangler g++ itself uses); ``name``
    unchanged when it is no C++ name or libstdc++ is absent."""
    if not name.startswith("_Z"):
        return name
    import ctypes
    import ctypes.util
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("stdc++") or "libstdc++.so.6")
        fn = lib.__cxa_demangle
    except (OSError, AttributeError):
        return name
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.POINTER(ctypes.c_int)]
    status = ctypes.c_int()
    p = fn(name.encode(errors="surrogateescape"), None, None, ctypes.byref(status))
    if not p or status.value != 0:
        return name
    try:
        return ctypes.string_at(p).decode("utf-8", "replace")
    finally:
        ctypes.CDLL(None).free(ctypes.c_void_p(p))


class SymbolCache:
    """bcc's ``SymbolCache(pid)``: the symbols of one process (or the kernel's, pid < 0).
    ``resolve(addr, demangle)`` gives ``(name, offset, module)`` as bytes; ``resolve_name
    (module, name)`` the symbol's address in the process, -1 when unknown."""

    def __init__(self, pid: int):
        self.pid = int(pid)
        self._k = KernelSymbols() if self.pid < 0 else None
        self._u = None if self.pid < 0 else UserSymbols()

    def resolve(self, addr: int, demangle_names: bool = True):
        hit = self._k.resolve(addr) if self._k else self._u.resolve(addr, self.pid)
        if hit is None:
            return None, addr, None
        name, off, mod = hit
        if demangle_names:
            name = demangle(name)
        return (name.encode(errors="surrogateescape"), off,
                (mod or "kernel").encode(errors="surrogateescape"))

    def resolve_name(self, module, name) -> int:
        name = name.decode() if isinstance(name, bytes) else str(name)
        if self._k is not None:
            return self._k.address(name)
        from .. import errors
        from ..links import symbols
        from ..syms.user import Binaries, read_maps
        try:
            path = symbols.resolve_path(module.decode() if isinstance(module, bytes)
                                        else str(module))
        except errors.PybpfError:
            return -1
        real = os.path.realpath(path)
        maps = [m for m in read_maps(self.pid) if os.path.realpath(m.path or "") == real]
        if not maps:
            return -1
        try:       # the binary's table, or its debug file's when it is stripped
            b = Binaries().get(maps[0])
        except (OSError, errors.PybpfError):
            return -1
        vaddr = b.address(name) if b is not None else None
        if vaddr is None:
            return -1
        off = next((vaddr - v + o for v, sz, o, _ in b.segments if v <= vaddr < v + sz),
                   None)
        for m in maps:
            if off is not None and m.offset <= off < m.offset + (m.end - m.start):
                return m.start + off - m.offset
        return -1
