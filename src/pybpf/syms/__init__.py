"""Symbolization of kernel and user stacks: addresses -> function, offset, module, and on
request file:line with inlined frames.

    from pybpf.syms import Symbolizer
    with Symbolizer(lines=True) as syms:
        for frame in syms.stack(user_addrs, pid=1234):
            print(frame)                # "main+0x1a (prog.c:42) [/usr/bin/prog]"
        syms.kernel(kaddr)              # Symbol("do_sys_openat2", 0x5, "")

Kernel symbols come from kallsyms, indexed once per boot in the private cache (a later
process loads the index in milliseconds), plus BPF programs' JIT images asked of the kernel.
User symbols come from the process's mappings and its binaries' symbol tables (read
without pyelftools: milliseconds per binary), through /proc/PID/map_files or /proc/PID/root
so deleted files, memfds and containers' binaries resolve; perf-PID.map for JITs.  DWARF is
read (with pyelftools) only with ``lines=True``.  The tools and the bcc front end all use
this one symbolizer.
"""

from __future__ import annotations

KERNEL_START = 0xFFFF_8000_0000_0000     # x86-64/arm64: kernel addresses have the top bit


class Symbol:
    """A resolved address: ``name+offset`` in ``module`` (a binary's path, a kernel module,
    "" for the core kernel, "bpf" for a BPF program); ``file``/``line`` when debug info was
    asked for and found; ``inlined`` lists the frames inlined at this address, innermost
    first, as :class:`pybpf.syms.dwarf.Frame`."""

    __slots__ = ("addr", "name", "offset", "module", "file", "line", "inlined")

    def __init__(self, addr: int, name: str, offset: int, module: str,
                 file: str | None = None, line: int | None = None, inlined: tuple = ()):
        self.addr, self.name, self.offset, self.module = addr, name, offset, module
        self.file, self.line, self.inlined = file, line, inlined

    def __repr__(self) -> str:
        return f"Symbol({self.format(offset=True, module=True, lines=True)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Symbol) and (self.addr, self.name, self.offset, self.module) \
            == (other.addr, other.name, other.offset, other.module)

    def __hash__(self) -> int:
        return hash((self.addr, self.name, self.offset, self.module))

    def format(self, offset: bool = False, module: bool = False, lines: bool = False) -> str:
        """bcc's spelling, ``name+0x1a [module]``, with `` (file:line)`` when asked."""
        out = self.name
        if offset:
            out += f"+0x{self.offset:x}"
        if lines and self.file:
            out += f" ({self.file}:{self.line})"
        if module and self.module:
            out += f" [{self.module}]"
        return out

    def __str__(self) -> str:
        return self.format(offset=True, module=True, lines=True)


class Symbolizer:
    """Resolves kernel and user addresses; caches per binary, per process and per boot.
    Cheap to create; nothing is read until the first lookup."""

    def __init__(self, lines: bool = False, kallsyms: str | None = None,
                 cache: bool = True):
        from .kernel import KALLSYMS, KernelSymbols
        from .user import Binaries
        self.lines = lines
        self._kernel = KernelSymbols(kallsyms or KALLSYMS, cache=cache)
        self._binaries = Binaries()
        self._procs: dict = {}
        self._debug: dict = {}

    # -- resources ----------------------------------------------------------------------
    def close(self) -> None:
        """Close the debug-info files kept open for ``lines=True`` (idempotent)."""
        for d in self._debug.values():
            if d is not None:
                d.close()
        self._debug.clear()

    def __enter__(self) -> Symbolizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- kernel -------------------------------------------------------------------------
    def kernel(self, addr: int) -> Symbol | None:
        """The kernel function (or BPF program) containing ``addr``."""
        hit = self._kernel.resolve(addr)
        return Symbol(addr, hit[0], hit[1], hit[2]) if hit else None

    def kernel_address(self, name: str) -> int | None:
        """The address of kernel function ``name`` (bcc's ``ksymname``)."""
        return self._kernel.address(name)

    # -- user ---------------------------------------------------------------------------
    def user(self, pid: int, addr: int) -> Symbol | None:
        """The function of process ``pid`` containing ``addr``."""
        proc = self._process(pid)
        hit = proc.resolve(addr)
        if hit is None:
            return None
        name, off, path, mapping, vaddr = hit
        sym = Symbol(addr, name, off, path)
        if self.lines and mapping is not None:
            self._add_lines(sym, mapping, vaddr)
        return sym

    def remember(self, pid: int) -> None:
        """Read ``pid``'s mappings now, so its addresses resolve after it exits (tools call
        this when they first see a process)."""
        self._process(pid)

    def forget(self, pid: int) -> None:
        """Drop what is kept of a process (its pid may be reused)."""
        self._procs.pop(pid, None)

    def _process(self, pid: int):
        proc = self._procs.get(pid)
        if proc is None:
            from .user import Process
            proc = self._procs[pid] = Process(pid, self._binaries)
        return proc

    def _add_lines(self, sym: Symbol, mapping, vaddr: int) -> None:
        info = self._debug_info(mapping)
        if info is None:
            return
        from .. import errors
        try:
            frames = info.frames(vaddr)
        except (errors.PybpfError, KeyError, ValueError, AttributeError, IndexError):
            return
        if frames:
            outer = frames[-1]
            sym.file, sym.line = outer.file, outer.line
            sym.inlined = tuple(frames[:-1])

    def _debug_info(self, mapping):
        ident = mapping.ident
        if ident is None:
            return None
        if ident not in self._debug:
            open_path = mapping.open_path
            if open_path is None:
                return None
            from .. import errors
            from .dwarf import DebugInfo
            from .elfsyms import debug_file
            info = None
            b = self._binaries.get(mapping)
            dbg = b and (b.debug_path or debug_file(b, mapping.root, mapping.path))
            for cand in (open_path, dbg):
                if not cand:
                    continue
                try:
                    info = DebugInfo(cand)
                    break
                except (errors.PybpfError, OSError):
                    continue
            self._debug[ident] = info
        return self._debug[ident]

    # -- both ---------------------------------------------------------------------------
    def resolve(self, addr: int, pid: int | None = None) -> Symbol | None:
        """A kernel address (top bit set) or a user address of ``pid``."""
        if addr >= KERNEL_START:
            return self.kernel(addr)
        if pid is None:
            return None
        return self.user(pid, addr)

    def stack(self, addrs, pid: int | None = None) -> list[Symbol | None]:
        """Resolve a stack (innermost first); with ``lines=True`` each Symbol carries the
        frames inlined at its address.  Unresolvable addresses give None."""
        return [self.resolve(a, pid) for a in addrs]


def frames(sym: Symbol | None, addr: int, offset: bool = False, module: bool = False,
           lines: bool = True, unknown: str = "[unknown]") -> list[str]:
    """The printable frames of one stack entry: inlined functions first (marked
    ``(inlined)``), then the function itself."""
    if sym is None:
        return [unknown if not offset else f"0x{addr:x}"]
    out = []
    for f in sym.inlined:
        where = f" ({f.file}:{f.line})" if lines and f.file else ""
        out.append(f"{f.name or '??'}{where} (inlined)")
    out.append(sym.format(offset=offset, module=module, lines=lines))
    return out
