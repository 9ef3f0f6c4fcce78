"""``BPF(text=...)``: bcc's front end on pybpf's compiler, loader and links.

The text is rewritten to libbpf-style C (see :mod:`.rewrite`), compiled by clang through
pybpf's cache, and loaded; maps are created at once, auto-attach probes are attached, other
functions load on ``load_func``/``attach_*``.  What a text yields is cached per kernel
(:mod:`.buildcache`), so a second start neither rewrites, compiles nor parses anything.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys

from .. import errors
from .attach import AttachMixin
from .funcs import FuncsMixin
from .netattach import NetAttachMixin
from .streams import StreamsMixin
from .statics import StaticsMixin
from .utils import as_str

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .rewrite import Binding

DEBUG_LLVM_IR, DEBUG_BPF, DEBUG_PREPROCESSOR, DEBUG_SOURCE = 0x1, 0x2, 0x4, 0x8
DEBUG_BPF_REGISTER_STATE, DEBUG_BTF = 0x10, 0x20


class Function:
    """A loaded program, as bcc's ``load_func`` returns it."""

    def __init__(self, bpf, name: str, prog):
        self.bpf, self.name, self.prog = bpf, name.encode(), prog
        self.fd = prog.fileno()

    def fileno(self) -> int:
        return self.fd



def _find_file(path) -> str:
    """bcc's lookup of src_file/hdr_file: as given, else beside the running script
    (``BPF(src_file="task_switch.c")`` run from another directory)."""
    path = as_str(path)
    if path and not os.path.isabs(path) and not os.path.isfile(path) and sys.argv[0]:
        beside = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), path)
        if os.path.isfile(beside):
            return beside
    return path

class BPF(AttachMixin, NetAttachMixin, StaticsMixin, FuncsMixin, StreamsMixin):
    """A bcc-style BPF module. Use as a context manager or call :meth:`cleanup`."""

    # program types, as bcc names them (values are the kernel's)
    SOCKET_FILTER, KPROBE, SCHED_CLS, SCHED_ACT, TRACEPOINT, XDP, PERF_EVENT = 1, 2, 3, 4, 5, 6, 7
    CGROUP_SKB, CGROUP_SOCK, LWT_IN, LWT_OUT, LWT_XMIT, SOCK_OPS = 8, 9, 10, 11, 12, 13
    SK_SKB, CGROUP_DEVICE, SK_MSG, RAW_TRACEPOINT, CGROUP_SOCK_ADDR = 14, 15, 16, 17, 18
    CGROUP_SOCKOPT, TRACING, LSM = 25, 26, 29
    XDP_FLAGS_UPDATE_IF_NOEXIST, XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE = 1, 2, 4
    XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE = 8, 16
    XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = 0, 1, 2, 3, 4
    CLOCK_MONOTONIC = 1

    def __init__(self, src_file=b"", hdr_file=b"", text=None, debug: int = 0, cflags=None,
                 usdt_contexts=None, allow_rlimit: bool = True, device=None,
                 attach_usdt_ignore_pid: bool = False):
        # RLIMIT_MEMLOCK (allow_rlimit): raised only on kernels before 5.11, after an EPERM
        # (pybpf._sys.memlock); newer kernels account BPF memory to the memory cgroup
        from ..caps import require_bpf
        require_bpf("BPF()", tracing=False)   # before compiling: say EPERM, build nothing
        self.debug = debug
        self.cflags = [as_str(c) for c in (cflags or [])]
        if not any(c.startswith("-DLINUX_VERSION_CODE") for c in self.cflags):
            self.cflags.append(f"-DLINUX_VERSION_CODE={_version_code(os.uname().release)}")
        self.tables: dict[str, object] = {}
        self.funcs: dict[str, Function] = {}
        self._links: dict[tuple, list] = {}
        self._objects: list = []
        self._variants: dict[tuple, Function] = {}
        self._perf_buffers: dict[str, object] = {}
        self._rb = None
        self._pipe = None
        self._features = None
        self._ksyms = None
        self._usyms = None
        self._converter = None
        self._event_classes: dict[str, type] = {}
        self._obj = None
        self._rw = None
        self._spec = None
        self._entry: dict = {}
        self._usdt_spec_ids = 0
        from .attach import track
        track(self)
        usdt_contexts = list(usdt_contexts or ())
        if usdt_contexts:
            self.cflags.append("-DPYBPF_BCC_USDT=1")
        src_file, hdr_file = _find_file(src_file), _find_file(hdr_file)
        if src_file:
            # clang reads bcc's src_file from its path: its own "" includes resolve there
            self.cflags.append("-I" + os.path.dirname(os.path.abspath(src_file)))
        self._text, self._pins = pinned_tables(self._read_text(src_file, hdr_file, text))
        self._pinned: list = []
        from .printkfmt import warnings
        for w in warnings(self._text):
            print(w, file=sys.stderr)
        try:
            self._build()
            for u in usdt_contexts:
                u.attach(self)
        except BaseException:
            self.cleanup()
            raise

    # -- construction --------------------------------------------------------------------
    @staticmethod
    def _read_text(src_file, hdr_file, text) -> str:
        parts = []
        for path in (hdr_file, src_file):
            path = as_str(path)
            if path:
                try:
                    with open(path) as f:
                        parts.append(f.read())
                except OSError as e:
                    raise errors.NotFoundError(e.errno or 2, "BPF",
                                               f"cannot read {path}: {e.strerror}") from None
        if text is not None:
            parts.append(as_str(text))
        if not parts:
            raise errors.PybpfError("BPF() needs text= or src_file=")
        return "\n".join(parts)

    def _rewrite(self, bindings: dict[str, Binding] | None = None):
        from . import tpformat
        from .rewrite import rewrite
        return rewrite(self._text, bind=self._bind, bindings=bindings,
                       tp_struct=tpformat.struct_for, cflags=self.cflags)

    def _compile(self, source: str, rw=None) -> bytes:
        # h13c: prelude.compile adds the kernel-pointer reads (kderef, on clang's AST; it
        # needs the rewrite's findings) and the per-kernel precompiled header
        from .prelude import compile as compile_c
        inc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")
        if self.debug & (DEBUG_PREPROCESSOR | DEBUG_SOURCE):
            print(source, file=sys.stderr)
        return compile_c(source, self.cflags, [inc], rw=rw if rw is not None else self._rw)

    def _build(self) -> None:
        from ..object.loader import load
        from . import buildcache
        key = buildcache.key(self._text, self.cflags)
        hit = None if self.debug else buildcache.read(key)
        if hit is None:
            entry = self._build_entry()
            if not self.debug:
                buildcache.write(key, entry)
        else:
            entry, self._rw = hit
        self._entry = entry
        self._elf = entry["elf"]
        rw = self._rw
        autoload = [n for n in entry["programs"] if n in rw.probes and rw.probes[n].auto]
        from . import shared
        public, extern = shared.declared(self._text)
        reuse = self._open_pins()
        reuse.update(shared.maps_for(extern))
        self._obj = load(self._elf, name="bcc", programs=autoload, maps=reuse,
                         log_level=2 if self.debug & (DEBUG_BPF | DEBUG_BPF_REGISTER_STATE)
                         else 0)
        shared.publish(self, self._obj.maps, public)
        for name, path in self._pins.items():
            if not any(n == name for n, _ in self._pinned) and name in self._obj.maps:
                self._obj.maps[name].pin(path)
        for name, probe in rw.probes.items():
            if probe.auto and name in self._obj.programs:
                fn = Function(self, name, self._obj.programs[name])
                self.funcs[name] = fn
                self._auto_attach(probe, fn)
        self._announce_fallbacks()

    def _open_pins(self) -> dict:
        """BPF_TABLE_PINNED tables whose pin exists: reused (bcc creates and pins the
        others, which _build does after loading)."""
        from ..maps import Map
        out = {}
        for name, path in self._pins.items():
            if os.path.exists(path):
                m = Map.from_pin(path)
                self._pinned.append((name, m))
                out[name] = m
        return out

    def _build_entry(self) -> dict:
        """Rewrite, compile and parse the text: the slow path of a first start."""
        from ..object.spec import ObjectSpec
        from .buildcache import make_entry
        self._rw = self._rewrite()
        elf = self._compile(self._rw.source)
        self._spec = ObjectSpec.from_bytes(elf, name="bcc")
        return make_entry(self._rw, elf, self._spec)

    def _announce_fallbacks(self) -> None:
        moved = [(p.name, p.binding) for p in self._rw.probes.values()
                 if p.auto and p.binding is not None and p.binding.via != "kprobe"]
        if not moved:
            return
        why = ("this kernel has no kprobes (CONFIG_KPROBES is off)" if not
               self._feat().has_kprobes() else "these functions take no kprobe here "
               "(absent, inlined or untraceable)")
        where = ", ".join(f"{n} runs on {_describe(b)}" for n, b in moved)
        print(f"pybpf: {why}: {where}", file=sys.stderr)

    # -- kernel hooks ------------------------------------------------------------------
    def _feat(self):
        if self._features is None:
            from ..features import Features
            self._features = Features()
        return self._features

    def _bind(self, kind: str, target: str, sysname: str, retprobe: bool,
              fn_name: str = "") -> Binding:
        """Where a kprobe-family function for ``target`` runs on this kernel."""
        from ..links import symbols
        from .rewrite import Binding
        f = self._feat()
        if sysname:
            fn = symbols.syscall_prefix() + sysname
        else:
            fn = target
        if f.has_kprobes():
            if sysname or retprobe or self._kprobe_target(fn):
                return Binding("kprobe", fn, sysname, retprobe)
            # not in this kernel (inlined or renamed: 6.12 has no blk_account_io_done, no
            # kmem_cache_alloc): a tracepoint inside it stands in, as without kprobes
            from .. import tracefs
            from .kprobe_tp import equivalent
            eq = equivalent(fn, os.path.join(tracefs.root(), "events"))
            if eq is None:
                return Binding("kprobe", fn, sysname, retprobe)     # it says what lacks
            return Binding("raw_tp", f"{eq[0]}:{eq[1]}", "", False, argmap=eq[2], ip=0)
        if f.has_trampolines() and _btf_func_nargs(fn) is not None:
            return Binding("fexit" if retprobe else "fentry", fn, sysname, retprobe,
                           nargs=_btf_func_nargs(fn) or 0)
        if not sysname and not retprobe:
            from .. import tracefs
            from .kprobe_tp import equivalent
            eq = equivalent(fn, os.path.join(tracefs.root(), "events"))
            if eq is not None:
                ip = self.ksymname(fn)
                return Binding("raw_tp", f"{eq[0]}:{eq[1]}", "", False, argmap=eq[2],
                               ip=max(ip, 0))
        if sysname:
            from .. import tracefs
            ev = f"sys_{'exit' if retprobe else 'enter'}_{sysname}"
            if os.path.isdir(os.path.join(tracefs.root(), "events", "syscalls", ev)):
                return Binding("tracepoint", fn, sysname, retprobe)
        if sysname and fn_name and self.ksymname(fn) != -1:
            # the entry function exists but is not in this architecture's syscall table
            # (x86-64's __x64_sys_stat): no syscall reaches it, so there is nothing to
            # trace, and a kprobe on it would never fire either
            return Binding("idle", fn, sysname, retprobe)
        if kind == "syscall":
            # a syscall__ function is attached by the tool itself (attach_kprobe), often
            # to several syscalls: bind it then; compile it for registers meanwhile
            return Binding("kprobe", fn, sysname, retprobe)
        raise errors.NotSupportedError(
            "kprobes", (f"{fn_name} on {kind} {target}" if fn_name else f"{kind}__{target}")
            + ": this kernel has no kprobes (CONFIG_KPROBES is off) "
            "and refuses BPF trampolines (fentry/fexit)"
            + ("" if sysname else f", and no tracepoint stands in for {target}"
               + (" returning" if retprobe else "")))

    def _kprobe_target(self, fn: str) -> bool:
        """Whether a kprobe can take kernel function ``fn``: in kallsyms and, when ftrace
        lists its functions, there (6.12 keeps a ``blk_account_io_done`` symbol that a
        kprobe refuses with EINVAL)."""
        if self.ksymname(fn) == -1:
            return False
        ftrace = self.__dict__.get("_ftrace_names", False)
        if ftrace is False:
            from .. import tracefs
            from .statics import _read_names
            try:
                root = tracefs.root()
            except errors.PybpfError:
                root = ""
            ftrace = _read_names(os.path.join(root, "available_filter_functions")) \
                if root else None
            self.__dict__["_ftrace_names"] = ftrace
        return ftrace is None or fn in ftrace

    # -- programs ----------------------------------------------------------------------
    def load_func(self, func_name, prog_type, device=None, attach_type=-1) -> Function:
        """Load function ``func_name`` as ``prog_type`` (a BPF.* constant)."""
        name = as_str(func_name)
        fn = self.funcs.get(name)
        if fn is not None:
            return fn
        if name not in self._entry["programs"]:
            raise errors.NotFoundError(2, "load_func", f"no function {name!r} in the BPF text"
                                       f" (programs: {sorted(self._rw.probes)})")
        fn = self._load_variant(name, self._elf, prog_type, attach_type)
        self.funcs[name] = fn
        return fn

    def _kprobe_stand_in(self, prog_type):
        """The type a plain function asked for as a kprobe program gets when this text's
        kprobes run as tracepoints (no kprobes here): a tail call's target must have its
        caller's type (the prog array takes its first user's), and a kprobe program could
        be attached nowhere else."""
        vias = {p.binding.via for p in self._rw.probes.values()
                if p.kind in ("kprobe", "kretprobe") and p.binding is not None}
        if vias == {"tracepoint"}:
            return self.TRACEPOINT
        if vias == {"raw_tp"}:
            return self.RAW_TRACEPOINT
        return prog_type

    def _load_variant(self, name: str, elf: bytes, prog_type, attach_type=-1) -> Function:
        """Load one function of ``elf`` (this text, or a recompiled variant) reusing the
        maps of the main object."""
        from ..object.loader import load
        probe = self._rw.probes.get(name) if self._rw is not None else None
        plain = attach_type is None or attach_type < 0
        if probe is not None and probe.kind == "generic" and prog_type is not None and \
                int(prog_type) == self.KPROBE:
            prog_type = self._kprobe_stand_in(prog_type)
        sections = None
        if probe is not None and prog_type is not None:
            # a generic function gets its type here; so does a `struct pt_regs *ctx`
            # function given to attach_tracepoint (bcc loads it as a tracepoint program,
            # its body reading the record through the pt_regs-typed pointer)
            rep = _SECTION_OF_TYPE.get(int(prog_type))
            if rep and (probe.kind == "generic" or
                        _SECTION_OF_TYPE.get(_type_of_section(probe.section)) != rep):
                sections = {name: rep}
        if probe is not None and plain and (probe.kind != "generic" or sections):
            # the type is known from its section or from prog_type: load through a load
            # plan when warm
            obj = load(elf, name="bcc", programs=[name], maps=self._obj.maps,
                       sections=sections)
            self._objects.append(obj)
            return Function(self, name, obj.programs[name])
        from ..object.spec import ObjectSpec
        from ..object.sections import parse_section
        spec = ObjectSpec.from_bytes(elf, name="bcc")
        for n, p in spec.programs.items():
            if not p.subprogram:
                p.autoload = n == name
        p = spec.programs[name]
        if p.section.startswith("pybpf/") and prog_type is not None:
            rep = _SECTION_OF_TYPE.get(int(prog_type))
            info = parse_section(rep) if rep else None
            p.type = int(prog_type)
            if info is not None:
                p.sec_info = info
                p.expected_attach_type = info.expected_attach_type
            if attach_type is not None and attach_type >= 0:
                p.expected_attach_type = attach_type
        elif attach_type is not None and attach_type >= 0:
            # a kprobe-family function loaded again for another link type (uprobe_multi)
            if prog_type is not None:
                p.type = int(prog_type)
            p.expected_attach_type = attach_type
        obj = load(spec, maps=self._obj.maps)
        self._objects.append(obj)
        return Function(self, name, obj.programs[name])

    # -- tables ------------------------------------------------------------------------
    def _btf(self):
        """ctypes from BTF: the parsed object's when at hand, else the cached types."""
        if self._converter is None:
            from .ctypes_btf import Converter, TypeTable
            if self._spec is not None and self._spec.btf is not None:
                self._converter = Converter(self._spec.btf, bcc=True)
            elif self._entry.get("types") is not None:
                self._converter = Converter(TypeTable(self._entry["types"]), bcc=True)
        return self._converter

    def _kv_types(self, name: str):
        kid, ksize, vid, vsize = self._entry["maps"][name]
        conv = self._btf()

        def pick(tid, size):
            if conv is not None and tid:
                return conv(tid)
            return {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_int,
                    8: ctypes.c_ulonglong}.get(size, ctypes.c_uint8 * max(size, 0))
        return pick(kid, ksize), pick(vid, vsize)

    def get_table(self, name, keytype=None, leaftype=None, reducer=None):
        from .table import table_class
        name = as_str(name)
        t = self.tables.get(name)
        if t is not None and keytype is None and leaftype is None and reducer is None:
            return t
        if self._obj is None or name not in self._obj.maps or name not in self._entry["maps"]:
            raise KeyError(f"no table {name!r} (tables: {sorted(self._rw.tables)})")
        m = self._obj.maps[name]
        k, v = self._kv_types(name)
        t = table_class(m.type)(self, name, m, keytype or k, leaftype or v)
        if reducer is not None:
            t.reducer = reducer         # per-CPU tables fold their values with it
            return t                    # b[name] stays unreduced
        self.tables[name] = t
        return t

    def __getitem__(self, name):
        return self.get_table(name)

    def __contains__(self, name) -> bool:
        return as_str(name) in self._rw.tables

    def __iter__(self):
        return iter(self._rw.tables)

    def __len__(self) -> int:
        return len(self._rw.tables)

    def _event(self, table: str, data):
        cls = self._event_classes.get(table)
        if cls is None:
            cls = self._event_class(table)
            self._event_classes[table] = cls
        size = ctypes.sizeof(cls)
        if isinstance(data, (bytes, bytearray, memoryview)):
            return cls.from_buffer_copy(bytes(data)[:size].ljust(size, b"\0"))
        addr = data.value if isinstance(data, ctypes.c_void_p) else int(data)
        return cls.from_buffer_copy(ctypes.string_at(addr, size))

    def _event_class(self, table: str) -> type:
        tname = self._rw.events.get(table)
        if tname is None or self._btf() is None:
            raise errors.PybpfError(f"cannot tell the event type of {table!r}: submit a "
                                    "variable declared as `struct NAME x` or cast with ctypes")
        tid = self._entry["event_ids"].get(table)
        if tid is None:
            raise errors.PybpfError(f"event type {tname!r} of {table!r} is not in the BTF")
        return self._btf()(tid)

    # -- lifetime ------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Detach everything and close every program, map and buffer."""
        for links in list(self._links.values()):
            for link in links:
                link.close()
        self._links.clear()
        for buf in list(self._perf_buffers.values()):
            buf.close()
        self._perf_buffers.clear()
        for res in (self._rb, self._pipe):
            if res is not None:
                res.close()
        self._rb = self._pipe = None
        for obj in reversed(self._objects):
            obj.close()
        self._objects.clear()
        if self._obj is not None:
            from .shared import forget
            forget(self)
            self._obj.close()
            self._obj = None
        self.funcs.clear()
        self.tables.clear()
        for _, m in self._pinned:
            m.close()
        self._pinned.clear()

    close = cleanup

    def __enter__(self) -> "BPF":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()


_PINNED = re.compile(r"\bBPF_TABLE_PINNED7?\s*\(([^;]*?),\s*\"([^\"]+)\"\s*\)")


def pinned_tables(text: str) -> tuple[str, dict[str, str]]:
    """``BPF_TABLE_PINNED("hash", K, V, name, n, "/sys/fs/bpf/p")`` becomes a plain
    BPF_TABLE; returns the text and {table name: pin path}."""
    pins: dict[str, str] = {}

    def plain(m) -> str:
        args = [a.strip() for a in m.group(1).split(",")]
        if len(args) >= 5:
            pins[args[3]] = m.group(2)
        return f"BPF_TABLE({', '.join(args[:5])})"
    if "BPF_TABLE_PINNED" not in text:
        return text, pins
    return _PINNED.sub(plain, text), pins


def _version_code(release: str) -> int:
    """linux/version.h's LINUX_VERSION_CODE for a kernel release ("6.18.44-fc" -> 397868)."""
    nums = [int(x) for x in re.findall(r"\d+", release.split("-")[0])[:3]]
    a, b, c = (nums + [0, 0, 0])[:3]
    return (a << 16) + (b << 8) + min(c, 255)


def _describe(b: Binding) -> str:
    if b.via == "raw_tp":
        return f"tracepoint {b.target}"
    if b.via == "tracepoint":
        return f"tracepoint syscalls:sys_{'exit' if b.retprobe else 'enter'}_{b.syscall}"
    return f"{b.via} {b.target}"


def _btf_func_nargs(name: str) -> int | None:
    """Argument count of kernel function ``name`` from vmlinux BTF, None if it has none."""
    from ..btf.kernel import load_vmlinux
    from ..btf.types import Kind
    try:
        spec = load_vmlinux()
        ids = spec.find(name, Kind.FUNC)
    except errors.PybpfError:
        return None
    if not ids:
        return None
    proto = spec[spec[ids[0]].type]
    return len(proto.params)


def _type_of_section(section: str) -> int | None:
    for prefix, t in (("kprobe", 2), ("kretprobe", 2), ("uprobe", 2), ("uretprobe", 2),
                      ("tracepoint", 5), ("tp/", 5), ("raw_tp", 17), ("raw_tracepoint", 17),
                      ("perf_event", 7), ("xdp", 6), ("socket", 1)):
        if section.startswith(prefix):
            return t
    return None


_SECTION_OF_TYPE = {1: "socket", 2: "kprobe", 3: "tc", 4: "action", 5: "tracepoint", 6: "xdp",
                    7: "perf_event", 8: "cgroup_skb/ingress", 9: "cgroup/sock", 17: "raw_tp",
                    15: "cgroup/dev", 18: "cgroup/connect4", 13: "sockops", 14: "sk_skb",
                    16: "sk_msg"}

