"""bcc's ``BPF`` methods that tools call on the class (``BPF.ksymname(...)``,
``BPF.get_kprobe_functions(b"...")``, ``BPF.kernel_struct_has_field(...)``, ...).

bcc makes these static; pybpf's work both on the class and on an instance.  Called on an
instance, symbol tables are the instance's; on the class, one table per process serves
every call (kallsyms is read once, not per call).
"""

from __future__ import annotations

import os
import re
import time

from .. import errors
from .utils import as_str


class either:
    """A method that receives the instance when called on one, else the class."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj, cls):
        target = obj if obj is not None else cls

        def bound(*args, **kw):
            return self.fn(target, *args, **kw)
        bound.__name__ = self.fn.__name__
        bound.__doc__ = self.fn.__doc__
        return bound


_KALLSYMS_TEXT = re.compile(rb"^([0-9a-f]+) ([tTwW]) (\S+)(?:\s+\[(\S+)\])?$", re.M)


def kernel_functions(path: str = "/proc/kallsyms") -> list[tuple[str, int, str]]:
    """(name, address, module) of every kernel text symbol, read in one pass (a line at a
    time costs seconds under emulation)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise errors.NotSupportedError("kallsyms", f"cannot read {path}: {e.strerror}") \
            from None
    return [(m[2].decode(errors="replace"), int(m[0], 16), (m[3] or b"").decode())
            for m in _KALLSYMS_TEXT.findall(data)]


def _read_names(*paths: str) -> set[str] | None:
    """The first words of the lines of the first of ``paths`` that can be read."""
    for p in paths:
        names = _read_name_list(p)
        if names is not None:
            return set(names)
    return None


def _read_name_list(path: str) -> list[str] | None:
    """The first word of each line of ``path``, in order; None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return [m.decode(errors="replace") for m in re.findall(rb"^(\S+)", data, re.M)]


_COLD = re.compile(r".*\.cold(\.\d+)?$")


def _section(funcs, start: str, end: str) -> tuple[int, int]:
    addrs = {n: a for n, a, _ in funcs if n in (start, end)}
    if len(addrs) == 2 and addrs[start] < addrs[end]:
        return addrs[start], addrs[end]
    return 0, 0


def traceable(name: str, ftrace: set[str] | None, blacklist: set[str]) -> bool:
    """bcc's filter of kprobe candidates: no ``.cold``/``.part`` clones or ``__pfx_``
    padding symbols, nothing the kprobe blacklist names, and, when ftrace lists its
    functions, only those (the others fail to attach)."""
    if name.startswith(("__pfx_", "_kbl_addr_", "__perf", "perf_", "__SCT__")) or \
            _COLD.match(name):
        return False
    if name in blacklist:
        return False
    return ftrace is None or name in ftrace


def tracepoints(tp_re) -> list[str]:
    """``"category:event"`` of every tracepoint matching regex ``tp_re``, sorted."""
    from .. import tracefs
    pat = re.compile(as_str(tp_re))
    root = os.path.join(tracefs.root(), "events")
    out = []
    for cat in sorted(os.listdir(root)):
        d = os.path.join(root, cat)
        if not os.path.isdir(d):
            continue
        for ev in sorted(os.listdir(d)):
            if pat.match(f"{cat}:{ev}") and os.path.isdir(os.path.join(d, ev)):
                out.append(f"{cat}:{ev}")
    return out


def kprobe_functions(event_re, path: str = "/proc/kallsyms", ftrace_path: str | None = None,
                     blacklist_path: str = "/sys/kernel/debug/kprobes/blacklist"
                     ) -> list[bytes]:
    """Kernel functions matching regex ``event_re`` that a kprobe can attach to (the
    paths are the kernel's files; tests give others)."""
    pat = re.compile(as_str(event_re))
    if ftrace_path is None:
        from .. import tracefs
        ftrace_path = os.path.join(tracefs.root(), "available_filter_functions")
    ftrace = _read_name_list(ftrace_path)
    black = set()
    try:
        with open(blacklist_path) as f:
            black = {ln.split()[1] for ln in f if len(ln.split()) > 1}
    except OSError:
        pass
    if ftrace is not None:
        # ftrace lists only functions it can patch: none of the __init code (its records
        # go when init memory is freed) nor the irq entry code (noinstr), so kallsyms is
        # not needed to leave them out.  Reading and parsing kallsyms as well took 0.4 s
        # on this project's VM and 6.7 s in the emulated 6.12 guest (bench/RESULTS.md).
        names = ftrace
    else:
        funcs = kernel_functions(path)
        # __init code is gone after boot; irq entry code cannot be probed
        skip = [_section(funcs, "__init_begin", "__init_end"),
                _section(funcs, "__irqentry_text_start", "__irqentry_text_end")]
        names = [name for name, addr, _ in funcs
                 if not any(lo <= addr < hi for lo, hi in skip)]
    out: list[bytes] = []
    seen: set[str] = set()
    for name in names:
        if name in seen or not pat.match(name):
            continue
        if traceable(name, None, black):
            seen.add(name)
            out.append(name.encode())
    return out


class StaticsMixin:
    """bcc's class-level API, mixed into BPF."""

    @staticmethod
    def get_kprobe_functions(event_re) -> list[bytes]:
        return kprobe_functions(event_re)

    @staticmethod
    def get_probe_limit() -> int:
        """bcc's cap on probes one tool may open (BCC_PROBE_LIMIT, default 1000)."""
        try:
            return int(os.environ.get("BCC_PROBE_LIMIT", "1000"))
        except ValueError:
            return 1000

    @staticmethod
    def get_syscall_prefix() -> bytes:
        from ..links import symbols
        return symbols.syscall_prefix().encode()

    @staticmethod
    def get_syscall_fnname(name) -> bytes:
        from ..links import symbols
        n = name if isinstance(name, bytes) else str(name).encode()
        return symbols.syscall_prefix().encode() + n

    @staticmethod
    def fix_syscall_fnname(name) -> bytes:
        """A syscall function named for another kernel (``sys_clone``, ``__x64_sys_clone``)
        as this kernel names it."""
        n = name if isinstance(name, bytes) else str(name).encode()
        for prefix in (b"__x64_sys_", b"__arm64_sys_", b"__s390x_sys_", b"__ia32_sys_",
                       b"__se_sys_", b"sys_"):
            if n.startswith(prefix):
                return StaticsMixin.get_syscall_fnname(n[len(prefix):])
        return n

    @staticmethod
    def monotonic_time() -> int:
        """CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns()."""
        return time.clock_gettime_ns(time.CLOCK_MONOTONIC)

    @staticmethod
    def generate_auto_includes(program_words) -> str:
        """bcc adds kernel #includes for known type names; vmlinux.h has them all."""
        return ""

    @staticmethod
    def find_exe(bin_path):
        """``bin_path`` if executable, else the first match on $PATH (bytes, or None)."""
        p = as_str(bin_path)
        if not p:
            return None
        if os.sep in p:
            return p.encode() if os.path.isfile(p) and os.access(p, os.X_OK) else None
        for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep):
            cand = os.path.join(d, p)
            if os.path.isfile(cand) and os.access(cand, os.X_OK):
                return cand.encode()
        return None

    @staticmethod
    def get_user_functions_and_addresses(name, sym_re) -> list[tuple[bytes, int]]:
        """(symbol, address) of the functions of binary ``name`` matching ``sym_re``."""
        from ..links import symbols
        path = symbols.resolve_path(as_str(name))
        pat = re.compile(as_str(sym_re))
        return [(s.encode(), e.address) for s, e in symbols.elf_symbols(path).items()
                if e.type in ("STT_FUNC", "STT_LOOS") and e.address and pat.match(s)]

    @staticmethod
    def get_user_functions(name, sym_re) -> set[bytes]:
        return {n for n, _ in StaticsMixin.get_user_functions_and_addresses(name, sym_re)}

    @staticmethod
    def get_user_addresses(name, sym_re) -> set[int]:
        return {a for _, a in StaticsMixin.get_user_functions_and_addresses(name, sym_re)}

    @staticmethod
    def get_tracepoints(tp_re) -> list[bytes]:
        """``b"category:event"`` of every tracepoint matching regex ``tp_re``."""
        return [t.encode() for t in tracepoints(tp_re)]

    @staticmethod
    def tracepoint_exists(category, event) -> bool:
        from .. import tracefs
        return tracefs.tracepoint_exists(as_str(category), as_str(event))

    @staticmethod
    def kernel_struct_has_field(struct_name, field_name) -> int:
        """1 if kernel ``struct struct_name`` has member ``field_name``, 0 if not, -1 if
        the kernel has no such struct (or no BTF)."""
        from ..btf.kernel import load_vmlinux
        from ..btf.types import Kind
        try:
            spec = load_vmlinux()
            ids = spec.find(as_str(struct_name), Kind.STRUCT) or spec.find(as_str(struct_name),
                                                                        Kind.UNION)
        except errors.PybpfError:
            return -1
        if not ids:
            return -1
        want = as_str(field_name)
        return int(any(m.name == want for m in spec[ids[0]].members))

    @staticmethod
    def support_raw_tracepoint() -> bool:
        return True

    @staticmethod
    def support_raw_tracepoint_in_module() -> bool:
        """Raw tracepoints of modules: kernels >= 5.5 with module BTF."""
        return os.path.isdir("/sys/kernel/btf")

    @staticmethod
    def support_kfunc() -> bool:
        from ..features import Features
        return Features().has_trampolines()

    @staticmethod
    def support_fmod_ret() -> bool:
        from ..features import Features
        return Features().has_trampolines()

    @staticmethod
    def support_lsm() -> bool:
        from ..features import Features
        return Features().has_lsm()

    @either
    def add_module(self, modname) -> bool:
        """Remember a binary's build id, to name ``BPF_STACK_TRACE_BUILDID`` frames."""
        from .stackbuildid import add_module
        return add_module(self, modname)

    # -- symbols (instance tables, or one per process on the class) -----------------
    @either
    def _kernel_syms(self):
        if getattr(self, "_ksyms", None) is None:
            from .syms import KernelSymbols
            self._ksyms = KernelSymbols()
        return self._ksyms

    @either
    def ksym(self, addr: int, show_module: bool = False, show_offset: bool = False) -> bytes:
        from .syms import format_symbol
        return format_symbol(self._kernel_syms().resolve(addr), show_module, show_offset,
                             addr, kernel=True)

    @either
    def ksymname(self, name) -> int:
        return self._kernel_syms().address(as_str(name))

    @either
    def sym(self, addr: int, pid: int, show_module: bool = False, show_offset: bool = False,
            demangle: bool = True) -> bytes:
        if hasattr(addr, "build_id"):       # a frame of a BPF_STACK_TRACE_BUILDID table
            from .stackbuildid import sym
            return sym(self, addr, pid, show_module, show_offset)
        if pid < 0:
            return self.ksym(addr, show_module, show_offset)
        from .syms import UserSymbols, format_symbol
        if getattr(self, "_usyms", None) is None:
            self._usyms = UserSymbols()
        return format_symbol(self._usyms.resolve(addr, pid), show_module, show_offset, addr)
