"""``bcc.libbcc`` under ``pybpf run``: the libbcc C functions bcc scripts call directly.

bcc scripts reach past bcc's Python API into libbcc through ``from bcc.libbcc import lib`` or
``from bcc import lib`` (``lib.bcc_resolve_symname(...)`` in strlen_hist_ifunc.py,
``lib.bpf_table_fd(bpf.module, ...)`` in sockmap.py).  There is no libbcc here: ``lib`` is an
object with one Python method per function offered, taking and filling the same ctypes
structures as libbcc's, and pybpf's BPF object where libbcc takes its module pointer
(``bpf.module`` is the BPF object itself); any other name fails with one line naming it.  Add a function as a method of :class:`Lib` (its
section below), and its structures beside the others.
"""

from __future__ import annotations

import ctypes as ct

from .. import errors
from .utils import as_str

STT_FUNC, STT_GNU_IFUNC = 2, 10


# ---- libbcc's structures, as bcc's Python declares them --------------------------------

class bcc_symbol(ct.Structure):                      # noqa: N801 - libbcc's names
    _fields_ = [("name", ct.c_char_p), ("demangle_name", ct.c_char_p),
                ("module", ct.POINTER(ct.c_char)), ("offset", ct.c_ulonglong)]


class bcc_symbol_option(ct.Structure):               # noqa: N801
    _fields_ = [("use_debug_file", ct.c_int), ("check_debug_file_crc", ct.c_int),
                ("lazy_symbolize", ct.c_int), ("use_symbol_type", ct.c_uint)]


class bcc_ip_offset_union(ct.Union):                 # noqa: N801
    _fields_ = [("offset", ct.c_uint64), ("ip", ct.c_uint64)]


class bcc_stacktrace_build_id(ct.Structure):         # noqa: N801
    _fields_ = [("status", ct.c_uint32), ("build_id", ct.c_ubyte * 20),
                ("u", bcc_ip_offset_union)]


class NotOffered(errors.PybpfError, AttributeError):
    """A libbcc function pybpf does not provide (an AttributeError too: ``hasattr`` works)."""


def _addr(p) -> int:
    """The address behind a buffer, ``ct.byref(x)``, a pointer or an int (0 for None)."""
    if p is None:
        return 0
    if isinstance(p, int):
        return p
    return ct.cast(p, ct.c_void_p).value or 0


def _deref(p, cls):
    """The structure behind ``ct.byref(x)``, a pointer, or ``x`` itself."""
    if isinstance(p, cls):
        return p
    obj = getattr(p, "_obj", None)          # what ct.byref() wraps
    if isinstance(obj, cls):
        return obj
    return ct.cast(p, ct.POINTER(cls)).contents


class Lib:
    """What ``lib`` offers (``bcc.libbcc.lib``)."""

    def __init__(self):
        self._keep: dict[str, ct.Array] = {}    # strings handed out as char*: kept alive
        # IFUNCs the script looked up as such, (real path, name) -> resolver's offset
        self._resolvers: dict[tuple[str, str], int] = {}

    def ifunc_resolver(self, path: str, name: str) -> int | None:
        """The file offset of IFUNC ``name``'s resolver in ``path`` if the script asked
        :meth:`bcc_resolve_symname` for it as an IFUNC: such a script probes the resolver
        on purpose (strlen_hist_ifunc.py), where pybpf would probe the implementation."""
        import os
        return self._resolvers.get((os.path.realpath(path), name))

    def _cstr(self, text: str):
        buf = self._keep.get(text)
        if buf is None:
            buf = self._keep[text] = ct.create_string_buffer(text.encode())
        return buf

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        offered = ", ".join(n for n in dir(Lib) if not n.startswith("_"))
        raise NotOffered(f"libbcc's {name} is not offered by pybpf's bcc.libbcc "
                         f"(there is no libbcc; offered: {offered})")

    # ---- symbols --------------------------------------------------------------------
    def bcc_resolve_symname(self, module, symname, addr, pid, option, sym) -> int:
        """Fill ``sym`` (a ``bcc_symbol``) with the binary's path and the file offset of
        ``symname`` (or of virtual address ``addr`` when no name is given) in library or
        executable ``module`` ("c", "libc.so.6" or a path); 0, or -1 when not found.
        ``option.use_symbol_type`` is a mask of ``1 << STT_*`` (0: functions and IFUNCs),
        so ``1 << STT_GNU_IFUNC`` finds only an IFUNC's resolver, as libbcc does."""
        from ..links import symbols
        out = _deref(sym, bcc_symbol)
        name, wanted = as_str(symname), (1 << STT_FUNC) | (1 << STT_GNU_IFUNC)
        if option:
            wanted = _deref(option, bcc_symbol_option).use_symbol_type or wanted
        try:
            path = symbols.resolve_path(as_str(module))
            if name:
                e = symbols.elf_symbols(path).get(name)
                kind = {"STT_FUNC": STT_FUNC, "STT_GNU_IFUNC": STT_GNU_IFUNC,
                        "STT_LOOS": STT_GNU_IFUNC}.get(e.type, -1) if e else -1
                if e is None or kind < 0 or not wanted & (1 << kind):
                    return -1
                offset = e.offset
                if kind == STT_GNU_IFUNC and wanted == 1 << STT_GNU_IFUNC:
                    import os
                    self._resolvers[(os.path.realpath(path), name)] = offset
            else:
                from ..syms.elfsyms import ElfSymbols
                segs = ElfSymbols(path).segments
                offset = next((int(addr) - v + o for v, m, o, _ in segs
                               if v <= int(addr) < v + m), None)
                if offset is None:
                    return -1
        except errors.PybpfError:
            return -1
        out.name = name.encode() if name else None
        out.demangle_name = out.name
        out.module = ct.cast(self._cstr(path), ct.POINTER(ct.c_char))
        out.offset = offset
        return 0

    # ---- tables ---------------------------------------------------------------------
    def bpf_table_fd(self, module, name) -> int:
        """The file descriptor of table ``name`` of ``module`` (the BPF object: what
        pybpf has for bcc's ``b.module``), or -1 when it has no such table."""
        try:
            return module.get_table(as_str(name)).map_fd
        except (KeyError, AttributeError, errors.PybpfError):
            return -1

    def bpf_table_id(self, module, name) -> int:
        tables = list(module)
        n = as_str(name)
        return tables.index(n) if n in tables else -1

    def bpf_num_tables(self, module) -> int:
        return len(module)

    def bpf_table_name(self, module, i: int) -> bytes | None:
        tables = list(module)
        return tables[i].encode() if 0 <= i < len(tables) else None

    # ---- functions ------------------------------------------------------------------
    def bpf_num_functions(self, module) -> int:
        return len(module._entry["programs"])

    def bpf_function_name(self, module, i: int) -> bytes | None:
        names = list(module._entry["programs"])
        return names[i].encode() if 0 <= i < len(names) else None

    def bpf_function_start(self, module, name):
        raise NotOffered("libbcc's bpf_function_start/bpf_function_size are not offered: "
                         "pybpf keeps no image of a function's code (use BPF.load_func)")

    bpf_function_size = bpf_function_start

    def bpf_module_license(self, module) -> bytes:
        return b"GPL"

    def bpf_module_rw_engine_enabled(self) -> int:
        """1: tables have bcc's ``key_sprintf``/``leaf_scanf`` text forms (written from
        the ctypes types in :mod:`.rwtext`, where bcc generates them with LLVM)."""
        return 1

    # ---- running programs -----------------------------------------------------------
    def bpf_prog_test_run(self, prog_fd, repeat, data, size, data_out, size_out, retval,
                          duration) -> int:
        """BPF_PROG_TEST_RUN as libbcc's (old libbpf's) call: ``data``/``data_out`` are
        buffers or pointers, ``size_out``/``retval``/``duration`` ``__u32`` out-pointers
        (or None); 0, or -1 with errno set, as the C call returns."""
        import errno as _errno
        from .._sys import attr_more, syscall
        from .._sys.uapi import Cmd
        a = attr_more.TestRun(prog_fd=int(prog_fd), repeat=int(repeat),
                              data_in=_addr(data), data_size_in=int(size),
                              data_out=_addr(data_out))
        ret = 0
        try:
            syscall.bpf(Cmd.PROG_TEST_RUN, a)
        except errors.KernelError as e:
            ct.set_errno(e.errno or _errno.EINVAL)
            ret = -1
        for ptr, value in ((size_out, a.data_size_out), (retval, a.retval),
                           (duration, a.duration)):
            if ptr is not None:
                _deref(ptr, ct.c_uint32).value = value
        return ret

    # ---- sockets and perf events ----------------------------------------------------
    def bpf_close_perf_event_fd(self, fd: int) -> int:
        import os
        try:
            os.close(fd)
        except OSError:
            return -1
        return 0

    def bpf_open_raw_sock(self, name) -> int:
        """A raw packet socket on device ``name``; the caller owns the descriptor."""
        from .netattach import open_raw_socket
        return open_raw_socket(as_str(name)).detach()

    def bpf_attach_socket(self, sock: int, prog_fd: int) -> int:
        import socket
        import struct
        from ..links.socket import SO_ATTACH_BPF
        s = socket.socket(fileno=sock)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, struct.pack("i", prog_fd))
        except OSError as e:
            return -e.errno
        finally:
            s.detach()
        return 0


lib = Lib()

__all__ = ["lib", "Lib", "bcc_symbol", "bcc_symbol_option", "bcc_ip_offset_union",
           "bcc_stacktrace_build_id", "STT_FUNC", "STT_GNU_IFUNC"]
