"""Load an :class:`ObjectSpec` into the kernel: BTF, maps, CO-RE, linking, programs.

``pybpf.load(path_or_bytes_or_spec)`` returns an :class:`Object` that owns every fd it
made; ``close()`` (or ``with``) releases them all, links first.
"""

from __future__ import annotations

import os
import struct
from typing import Any, Iterable

from .. import errors
from .._sys.uapi import MapFlag, MapType, ProgFlag, ProgType
from ..fd import FD
from . import core, kconfig
from .link import Linked, Resolver, link_program
from .spec import MapSpec, ObjectSpec, ProgramSpec

# Map types whose key/value the kernel will not describe with BTF (libbpf drops the ids).
_NO_BTF_KV = {MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE,
              MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.DEVMAP, MapType.DEVMAP_HASH,
              MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH,
              MapType.QUEUE, MapType.STACK, MapType.RINGBUF, MapType.PROG_ARRAY,
              MapType.USER_RINGBUF}


def load(source: ObjectSpec | bytes | str | os.PathLike, *, maps: dict[str, Any] | None = None,
         pin_root: str | None = None, log_level: int = 0,
         kernel_btf=None) -> "Object":
    """Load an object (a spec, ELF bytes or a path) and return the loaded :class:`Object`.

    ``maps`` replaces maps of the object with existing ones (by name: a Map or an fd), as
    libbpf's ``bpf_map__reuse_fd`` does; ``pin_root`` is where maps marked
    ``LIBBPF_PIN_BY_NAME`` are pinned or reused (default /sys/fs/bpf).
    """
    if isinstance(source, ObjectSpec):
        spec = source
    elif isinstance(source, (bytes, bytearray, memoryview)):
        spec = ObjectSpec.from_bytes(bytes(source))
    else:
        spec = ObjectSpec.from_file(source)
    obj = Object(spec)
    try:
        _Loader(spec, obj, maps or {}, pin_root, log_level, kernel_btf).run()
    except BaseException:
        obj.close()
        raise
    return obj


class Object:
    """A loaded object: ``programs`` and ``maps`` by name, ``links`` from :meth:`attach`."""

    def __init__(self, spec: ObjectSpec):
        self.spec = spec
        self.name = spec.name
        self.programs: dict[str, Any] = {}
        self.maps: dict[str, Any] = {}
        self.links: list[Any] = []
        self.btf_fd: FD | None = None
        self._owned: list[Any] = []    # everything to close, in creation order

    def attach(self, names: Iterable[str] | None = None) -> list:
        """Attach programs whose section names their hook (tracepoint/..., raw_tp/...,
        tp_btf/..., fentry/..., lsm/..., uprobe/path:func, ...); returns the new links."""
        from .attach import auto_attach
        new = []
        for name, prog in self.programs.items():
            if names is not None and name not in names:
                continue
            link = auto_attach(prog, self.spec.programs[name])
            if link is not None:
                self.links.append(link)
                new.append(link)
        return new

    def global_value(self, name: str) -> bytes:
        """Current bytes of a global variable, read from its map (after load)."""
        var = self.spec.globals[name]
        m = self.maps[var.section]
        return bytes(m.lookup_raw(struct.pack("<I", 0)))[var.offset:var.offset + var.size]

    def set_global(self, name: str, value: Any) -> None:
        """Write a ``.data``/``.bss`` global of the loaded object (``.rodata`` is frozen)."""
        from .globaldata import encode_value
        var = self.spec.globals[name]
        m = self.maps[var.section]
        key = struct.pack("<I", 0)
        data = bytearray(m.lookup_raw(key))
        data[var.offset:var.offset + var.size] = encode_value(value, var.size, var.signed, name)
        m.update(key, bytes(data))

    def close(self) -> None:
        for link in reversed(self.links):
            link.close()
        self.links.clear()
        for res in reversed(self._owned):
            res.close()
        self._owned.clear()
        self.programs.clear()
        self.maps.clear()

    def __enter__(self) -> "Object":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Object {self.name!r} programs={list(self.programs)} maps={list(self.maps)}>"


class _Loader:
    def __init__(self, spec: ObjectSpec, obj: Object, reuse: dict[str, Any],
                 pin_root: str | None, log_level: int, kernel_btf):
        self.spec, self.obj, self.reuse = spec, obj, reuse
        self.pin_root = pin_root or "/sys/fs/bpf"
        self.log_level = log_level
        self._vmlinux = kernel_btf
        self._module_btf: dict[str, Any] = {}

    # -- kernel BTF, only touched when something needs it --------------------------------
    def vmlinux(self):
        if self._vmlinux is None:
            from ..btf.kernel import load_vmlinux
            self._vmlinux = load_vmlinux()
        return self._vmlinux

    def run(self) -> None:
        self.load_btf()
        kconfig.fill(self.spec)
        for name, m in self.spec.maps.items():
            if m.autocreate:
                self.create_map(name, m)
        self.fill_map_slots(maps_only=True)
        code = self.apply_core()
        res = Resolver(map_fd=self.map_fd, ksym=self.ksym)
        for name, p in self.spec.programs.items():
            if not p.autoload:
                continue
            if p.sec_info is not None and not p.sec_info.supported:
                raise errors.NotSupportedError(f"section {p.section!r}",
                                               "pybpf cannot load this program kind yet")
            self.load_program(p, link_program(self.spec, p, code, res))
        self.fill_map_slots(maps_only=False)

    def load_btf(self) -> None:
        if self.spec.btf is None:
            return
        from ..btf.handle import load_btf
        from .btfsanitize import kernel_btf_bytes
        try:
            fd = load_btf(kernel_btf_bytes(self.spec.btf))
        except errors.BTFError as e:
            if any(p.sec_info is not None and p.sec_info.needs_btf_id
                   for p in self.spec.programs.values()):
                raise
            # like libbpf: without kernel-accepted BTF the object still loads, minus
            # BTF-described maps and source lines in verifier errors
            import warnings
            warnings.warn(f"object BTF rejected by the kernel, loading without it: {e}")
            return
        self.obj.btf_fd = fd
        self.obj._owned.append(fd)

    # -- maps ---------------------------------------------------------------------------
    def create_map(self, name: str, m: MapSpec):
        from ..maps import Map
        if name in self.obj.maps:
            return self.obj.maps[name]
        if name in self.reuse:
            given = self.reuse[name]
            fd = FD(os.dup(given.fileno() if hasattr(given, "fileno") else int(given)))
            mp = Map.from_fd(fd)
            self._own_map(name, mp)
            return mp
        if m.pinning == 1:  # LIBBPF_PIN_BY_NAME: reuse an existing pin or create and pin
            path = os.path.join(self.pin_root, name)
            if os.path.exists(path):
                mp = Map.from_pin(path)
                self._own_map(name, mp)
                return mp
        inner_fd = None
        inner = None
        if m.inner is not None:
            inner = self._create(m.inner, None)
            inner_fd = inner.fileno()
        try:
            mp = self._create(m, inner_fd)
        finally:
            if inner is not None:
                inner.close()
        self._own_map(name, mp)
        if m.data is not None and m.type == MapType.ARRAY:
            mp.update(struct.pack("<I", 0), bytes(m.data))
            if m.flags & MapFlag.RDONLY_PROG:
                mp.freeze()
        if m.pinning == 1:
            from .. import bpffs
            bpffs.ensure_mounted(self.pin_root)
            mp.pin(os.path.join(self.pin_root, name))
        return mp

    def _create(self, m: MapSpec, inner_fd: int | None):
        from ..maps import Map, MapSpec as KMapSpec
        mtype = m.type
        max_entries = m.max_entries
        if mtype == MapType.PERF_EVENT_ARRAY and max_entries == 0:
            from ..maps import possible_cpus
            max_entries = possible_cpus()
        use_btf = self.obj.btf_fd is not None and mtype not in _NO_BTF_KV and \
            (m.key_type_id or m.value_type_id)
        kspec = KMapSpec(name=m.kernel_name or m.name[:15], type=mtype, key_size=m.key_size,
                         value_size=m.value_size, max_entries=max_entries, flags=m.flags,
                         numa_node=m.numa_node, map_extra=m.map_extra,
                         inner_map_fd=inner_fd or 0,
                         btf_fd=self.obj.btf_fd.fileno() if use_btf else 0,
                         btf_key_type_id=m.key_type_id if use_btf else 0,
                         btf_value_type_id=m.value_type_id if use_btf else 0)
        try:
            return Map.create(kspec)
        except errors.KernelError as e:
            if not use_btf or isinstance(e, (errors.MissingPrivilegeError,
                                             errors.NotSupportedError)):
                raise
            # libbpf retries without BTF when the kernel rejects the map's BTF description
            kspec.btf_fd = kspec.btf_key_type_id = kspec.btf_value_type_id = 0
            return Map.create(kspec)

    def _own_map(self, name: str, mp) -> None:
        self.obj.maps[name] = mp
        self.obj._owned.append(mp)

    def map_fd(self, name: str) -> int:
        mp = self.obj.maps.get(name)
        if mp is None:
            m = self.spec.maps.get(name)
            if m is None:
                raise errors.ELFError(f"relocation against unknown map {name!r}")
            mp = self.create_map(name, m)
        return mp.fileno()

    def fill_map_slots(self, maps_only: bool) -> None:
        """Initial contents of map-in-map (``maps_only``) and program arrays (after load)."""
        for name, m in self.spec.maps.items():
            if not m.contents or name not in self.obj.maps:
                continue
            is_prog = m.type == MapType.PROG_ARRAY
            if is_prog == maps_only:
                continue
            target = self.obj.programs if is_prog else self.obj.maps
            for slot, what in m.contents.items():
                obj = target.get(what)
                if obj is None:
                    continue
                self.obj.maps[name].update(struct.pack("<I", slot),
                                           struct.pack("<I", obj.fileno()))

    # -- CO-RE ---------------------------------------------------------------------------
    def apply_core(self) -> dict[str, bytes]:
        """Each function's bytes with CO-RE relocations resolved against the kernel.

        Resolved fixes are cached per (kernel, object BTF, relocations), so a warm start
        patches instructions without reading the kernel's BTF at all.
        """
        code = {name: fn.instructions for name, fn in self.spec.functions().items()}
        ext = self.spec.btf_ext
        if ext is None or not ext.core_relos:
            return code
        by_section: dict[str, list[ProgramSpec]] = {}
        for fn in self.spec.functions().values():
            by_section.setdefault(fn.section, []).append(fn)
        work = []
        for section, relos in ext.core_relos.items():
            for relo in relos:
                fn = next((f for f in by_section.get(section, ())
                           if f.section_offset <= relo.insn_off <
                           f.section_offset + len(f.instructions)), None)
                if fn is not None:
                    work.append((fn, relo))
        fixes = self._cached_fixes(work)
        for (fn, relo), fix in zip(work, fixes):
            buf = code[fn.name]
            if not isinstance(buf, bytearray):
                buf = code[fn.name] = bytearray(buf)
            core.patch(buf, (relo.insn_off - fn.section_offset) // 8, fix,
                       where=f"{fn.name}: ")
        return {k: bytes(v) for k, v in code.items()}

    def _cached_fixes(self, work) -> list:
        import hashlib
        import json
        from ..btf.kernel import kernel_key
        from ..cache import cache_dir, read_private, write_private
        h = hashlib.sha256(kernel_key().encode())
        h.update(self.spec.btf.identity.encode() or self.spec.btf.to_bytes())
        for fn, r in work:
            h.update(f"{fn.name}|{r.insn_off}|{r.type_id}|{r.access}|{int(r.kind)};".encode())
        d = cache_dir()
        path = os.path.join(d, f"core-{h.hexdigest()}.json") if d else None
        if path:
            raw = read_private(path)
            if raw is not None:
                try:
                    return [core.Fix(core.R(k), *rest) for k, *rest in json.loads(raw)]
                except (ValueError, TypeError):
                    pass
        targets = [self.vmlinux()]
        fixes = [core.resolve(self.spec.btf, r, targets) for _, r in work]
        if path:
            write_private(path, json.dumps([[int(f.kind), f.local, f.target, f.poison, f.orig_size,
                                      f.new_size, f.validate] for f in fixes]).encode())
        return fixes

    # -- externs -------------------------------------------------------------------------
    def ksym(self, name: str) -> tuple[int, int, int]:
        from ..btf.types import Kind
        ext = self.spec.externs[name]
        if ext.typeless:
            addr = kconfig.kallsyms_address(name)
            if addr is None:
                if ext.weak:
                    return 0, 0, 0
                raise errors.NotFoundError(2, "ksym", f"kernel symbol {name!r} not found in "
                                           "/proc/kallsyms")
            return 0, addr, 0
        kind = Kind.FUNC if ext.is_func else Kind.VAR
        ids = self.vmlinux().find(name, kind)
        if not ids:
            if ext.weak:
                return 1, 0, 0
            raise errors.NotFoundError(2, "ksym", f"kernel {'function' if ext.is_func else 'variable'}"
                                       f" {name!r} has no BTF in vmlinux")
        return 1, ids[0], 0

    # -- programs ------------------------------------------------------------------------
    def load_program(self, p: ProgramSpec, linked: Linked) -> None:
        from ..programs import Program, ProgramSpec as KProgSpec
        flags = 0
        if p.sleepable:
            flags |= ProgFlag.SLEEPABLE
        if p.xdp_frags:
            flags |= ProgFlag.XDP_HAS_FRAGS
        attach_btf_id = 0
        info = p.sec_info
        if info is not None and info.needs_btf_id:
            attach_btf_id = self.attach_btf_id(p)
        ks = KProgSpec(
            name=p.name[:15], type=ProgType(p.type) if p.type in ProgType._value2member_map_
            else p.type, instructions=bytes(linked.insns), license=p.license or "GPL",
            expected_attach_type=p.expected_attach_type or 0, attach_btf_id=attach_btf_id,
            kern_version=p.kern_version or kconfig.kernel_version_code(), flags=flags,
            btf_fd=self.obj.btf_fd.fileno() if self.obj.btf_fd else 0,
            func_info=linked.func_info if self.obj.btf_fd else b"",
            func_info_rec_size=8, func_info_cnt=linked.func_info_cnt if self.obj.btf_fd else 0,
            line_info=linked.line_info if self.obj.btf_fd else b"",
            line_info_rec_size=16, line_info_cnt=linked.line_info_cnt if self.obj.btf_fd else 0,
            source_lines=linked.lines, fd_array=linked.fd_array, section=p.section,
            attach_to=info.extra if info else "")
        prog = Program.load(ks, log_level=self.log_level)
        self.obj.programs[p.name] = prog
        self.obj._owned.append(prog)

    def attach_btf_id(self, p: ProgramSpec) -> int:
        from ..btf.types import Kind
        target = p.sec_info.btf_target()
        if target is None:
            raise errors.ELFError(f"program {p.name!r} in {p.section!r} names no attach target")
        name, kind, module = target
        k = Kind.TYPEDEF if kind == "typedef" else Kind.FUNC
        spec = self.vmlinux()
        ids = spec.find(name, k)
        if not ids and module:
            from ..btf.kernel import load_module
            spec = load_module(module)
            ids = spec.find(name, k)
        if not ids:
            raise errors.NotFoundError(2, "attach target",
                                       f"{p.section!r}: the kernel has no {kind} {name!r} in "
                                       "its BTF")
        return ids[0]
