"""The steps of one load into the kernel that a load plan's replay needs (maps, their
contents, programs, globals: plain C integers and bools are encoded straight from the
plan's type table, without the BTF type model), kept apart from the
:class:`~pybpf.object.loader.Object` they fill.  The full path's own steps (BTF, CO-RE,
externs, linking, recording a plan) are in :mod:`.fullload`, which a warm start never
imports.
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs milliseconds at start-up; annotations only
    from typing import Any

    from .loader import Object

from .. import errors, log
from .._sys.uapi import MapFlag, MapType
from ..fd import FD

# Map types whose key/value the kernel will not describe with BTF (libbpf drops the ids).
_NO_BTF_KV = {MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE,
              MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.DEVMAP, MapType.DEVMAP_HASH,
              MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH,
              MapType.QUEUE, MapType.STACK, MapType.RINGBUF, MapType.PROG_ARRAY,
              MapType.USER_RINGBUF, MapType.ARENA}


def encode_global(obj, name: str, value) -> bytes:
    """Checked bytes of ``value`` for global ``name`` of ``obj``, as
    :func:`.globalview.encode` gives them: straight from the plan for a plain integer,
    bool or raw bytes of a replayed object, through the BTF codec otherwise."""
    tid = obj._var(name)[4]
    if tid and obj._spec is None and obj._plan is not None:
        raw = _plain_scalar(obj._plan.get("types") or {}, tid, value)
        if raw is not None:
            return raw
    from .globalview import encode as typed_encode
    return typed_encode(obj, name, value)


_MODIFIERS = (8, 9, 10, 11, 18)   # BTF_KIND_TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG


def _plain_scalar(types: dict, tid: int, value) -> bytes | None:
    """The bytes the Codec would give an int or bool ``value`` for a plain C integer or
    bool, or raw ``bytes`` for anything but a char array, read straight from a plan's type
    table (the tools' filter constants on a warm start, without importing the type model);
    None for anything else or what does not fit (the Codec then encodes it or says what
    is wrong)."""
    t = _resolved(types, tid)
    if t is None:
        return None
    kind, name, _, size, encoding = t[:5]
    if type(value) is bytes:
        if kind == 3:                           # BTF_KIND_ARRAY: not of chars
            e = _resolved(types, t[2])
            if e is None or (e[0] == 1 and e[3] == 1 and (e[1] == "char" or e[4] & 2)):
                return None
        return value + bytes(t[8] - len(value)) if len(value) <= t[8] else None
    if (type(value) is not int and type(value) is not bool) or kind != 1:   # BTF_KIND_INT
        return None
    if encoding & 4:                           # BTF_INT_BOOL: 0 or 1 only
        return bytes([value]) + bytes(size - 1) if value in (0, 1) and size >= 1 else None
    if encoding & 2 or (size == 1 and name == "char") or size not in (1, 2, 4, 8):
        return None                            # a char: the Codec's rules
    signed = bool(encoding & 1)
    bits = size * 8
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return int(value).to_bytes(size, "little", signed=signed) if lo <= value <= hi else None


def _resolved(types: dict, tid: int):
    """The plan's entry for ``tid`` past typedefs and qualifiers (None if absent)."""
    t = types.get(tid)
    for _ in range(32):
        if t is None or t[0] not in _MODIFIERS:
            break
        t = types.get(t[2])
    return t


class _Loader:
    """One load replayed from a plan (:meth:`replay`); :class:`.fullload.FullLoader` adds
    the full path (``run``, recording a plan on request)."""

    def __init__(self, obj: Object, reuse: dict[str, Any], pin_root: str | None,
                 log_level: int, kernel_btf, record: bool = False):
        self.spec = None
        self.obj, self.reuse = obj, reuse
        self.pin_root = pin_root or "/sys/fs/bpf"
        self.log_level = log_level
        self._vmlinux = kernel_btf
        self.map_specs: dict[str, Any] = {}
        self._modules: dict | None = None
        self._kallsyms: dict[str, int] | None = None
        self.patches: dict[str, list[tuple[int, bytes]]] = {}   # map -> (offset, bytes)
        self.arena_offsets: dict[str, int] = {}     # arena map -> where its globals start
        self.st_layouts: dict[str, Any] = {}    # struct_ops map -> its kernel value layout
        self.st_targets: dict[str, tuple[int, int]] = {}   # callback -> (struct, member)
        self.reused: set[str] = set()       # maps not created here (given, or pinned)
        self.sizes: dict[str, int] = {}     # map -> max_entries the caller chose (load())
        self.flags: dict[str, int] = {}     # map -> map_flags the caller chose (load())
        # the plan being recorded: None once something unplannable was met
        self.plan: dict | None = {"btf": None, "maps": [], "progs": []} if record else None

    def set_globals(self, variables: dict[str, Any]) -> None:
        """Turn ``variables`` (name -> value) into byte patches of their maps' data."""
        for name, value in variables.items():
            section, offset = self.obj._var(name)[:2]
            self.patches.setdefault(section, []).append((offset, encode_global(self.obj, name,
                                                                              value)))

    def replay(self, p: dict) -> None:
        """Do what the plan recorded: load its BTF, create its maps, load its programs."""
        from ..programs import Program, ProgramSpec as KProgSpec
        from .plan import map_recipe, patch_fds
        if p["btf"] is not None:
            from ..btf.handle import load_btf
            fd = load_btf(p["btf"])
            self.obj.btf_fd = fd
            self.obj._owned.append(fd)
        self.map_specs = {e["name"]: map_recipe(e) for e in p["maps"]}
        for name, m in self.map_specs.items():
            self.create_map(name, m)
        self.fill_map_slots(maps_only=True)
        btf_fd = self.obj.btf_fd.fileno() if self.obj.btf_fd else 0
        for e in p["progs"]:
            insns = patch_fds(e["insns"], e["relos"], lambda n: self.obj.maps[n].fileno())
            ks = KProgSpec(name=e["kname"], type=e["type"], instructions=insns,
                           license=e["license"], expected_attach_type=e["eat"],
                           attach_btf_id=e["attach_btf_id"], kern_version=e["kern_version"],
                           flags=e["flags"], btf_fd=btf_fd,
                           func_info=e["func_info"] if btf_fd else b"",
                           func_info_rec_size=8, func_info_cnt=e["fi_cnt"] if btf_fd else 0,
                           line_info=e["line_info"] if btf_fd else b"",
                           line_info_rec_size=16, line_info_cnt=e["li_cnt"] if btf_fd else 0,
                           section=e["section"], attach_to=e["attach_to"])
            prog = Program.load(ks)
            self._own_program(e["name"], prog)
        self.fill_map_slots(maps_only=False)
        if self.st_layouts:
            from .structops_load import registrations
            registrations(self)

    # -- maps ---------------------------------------------------------------------------
    def create_map(self, name: str, m):
        from ..maps import Map
        if name in self.obj.maps:
            return self.obj.maps[name]
        if self.plan is not None:
            from .planrecord import map_entry
            self.plan["maps"].append(map_entry(name, m))
        if name in self.reuse:
            given = self.reuse[name]
            fd = FD(os.dup(given.fileno() if hasattr(given, "fileno") else int(given)))
            mp = Map.from_fd(fd)
            self._own_map(name, mp)
            self.reused.add(name)
            return self._reused_arena(name, mp, m)
        if m.struct_ops is not None:
            from .structops_load import create_map     # only objects with struct_ops maps
            return create_map(self, name, m)
        path = ""
        if m.pinning == 1:  # LIBBPF_PIN_BY_NAME: reuse an existing pin or create and pin
            path = os.path.join(self.pin_root, m.pin_name or name)
            if os.path.exists(path):
                mp = Map.from_pin(path)
                self._own_map(name, mp)
                self._check_pinned(name, path, m, mp, self.flags.get(name))
                self.reused.add(name)
                return self._reused_arena(name, mp, m)
        inner_fd = None
        inner = None
        if m.inner is not None:
            try:
                inner = self._create(m.inner, None)
            except errors.KernelError as e:   # name the map the user knows and the field
                e.strerror = (f"{e.strerror} (the inner-map template of {name!r}: set "
                              f"spec.maps[{name!r}].inner before load)")
                raise
            inner_fd = inner.fileno()
        try:
            mp = self._create(m, inner_fd, self.sizes.get(name), self.flags.get(name))
        finally:
            if inner is not None:
                inner.close()
        self._own_map(name, mp)
        if m.data is not None and m.type == MapType.ARRAY:
            data = m.data
            if name in self.patches:
                data = bytearray(data)
                for off, raw in self.patches[name]:
                    data[off:off + len(raw)] = raw
            mp.update(struct.pack("<I", 0), bytes(data))
            if m.flags & MapFlag.RDONLY_PROG:
                mp.freeze()
        elif m.type == MapType.ARENA:
            # mapped before any program loads: the programs' view of it depends on it
            from .arena import setup
            self.arena_offsets[name] = setup(self, name, mp, m)
        if path:
            from .. import bpffs
            bpffs.ensure_mounted(self.pin_root)
            if "/" in m.pin_name:
                # a pin in a directory of its own (iproute2's PIN_OBJECT_NS): root's only
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            mp.pin(path)
        return mp

    def _reused_arena(self, name: str, mp, m):
        """A reused map; an arena's globals keep their creator's place (object/arena.py)."""
        if m.type == MapType.ARENA:
            from .arena import setup
            self.arena_offsets[name] = setup(self, name, mp, m, reused=True)
        return mp

    @staticmethod
    def _check_pinned(name: str, path: str, m, mp, flags: int | None = None) -> None:
        from ..mapcheck import pin_mismatch
        max_entries = m.max_entries
        flags = m.flags if flags is None else flags
        if m.type == MapType.PERF_EVENT_ARRAY and max_entries == 0:
            from ..maps import possible_cpus
            max_entries = possible_cpus()
        why = pin_mismatch((m.type, m.key_size, m.value_size, max_entries, flags),
                           (mp.type, mp.key_size, mp.value_size, mp.max_entries, mp.flags))
        if why:
            raise errors.PinnedMapError(f"map {name!r}: the map pinned at {path} has another "
                                        f"shape: {why} (unpin it, or pin elsewhere)")

    def _create(self, m, inner_fd: int | None, size: int | None = None,
                flags: int | None = None):
        from ..maps import Map, MapSpec as KMapSpec
        mtype = m.type
        max_entries = m.max_entries if size is None else size
        if mtype == MapType.PERF_EVENT_ARRAY and max_entries == 0:
            from ..maps import possible_cpus
            max_entries = possible_cpus()
        elif mtype in (MapType.RINGBUF, MapType.USER_RINGBUF):
            from ..mapcheck import ringbuf_size
            max_entries = ringbuf_size(max_entries)   # set after open: libbpf rounds too
        use_btf = self.obj.btf_fd is not None and mtype not in _NO_BTF_KV and \
            (m.key_type_id or m.value_type_id)
        kspec = KMapSpec(name=m.kernel_name or m.name[:15], type=mtype, key_size=m.key_size,
                         value_size=m.value_size, max_entries=max_entries,
                         flags=m.flags if flags is None else flags,
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
        if log.enabled():           # mp.id asks the kernel: only when the line is wanted
            log.debug("map %r: %s, key %d, value %d, max_entries %d (id %d)", name,
                      getattr(mp.type, "name", mp.type), mp.key_size, mp.value_size,
                      mp.max_entries, mp.id)
        self.obj.maps[name] = mp
        self.obj._owned.append(mp)

    def fill_map_slots(self, maps_only: bool) -> None:
        """Initial contents of map-in-map (``maps_only``) and program arrays (after load)."""
        for name, m in self.map_specs.items():
            if not m.contents or name not in self.obj.maps:
                continue
            is_prog = m.type == MapType.PROG_ARRAY
            if is_prog == maps_only or (maps_only and name in self.reused):
                # a map-in-map someone else made keeps its inner maps (libbpf and tc
                # fill only maps they create); program arrays get this object's programs
                continue
            target = self.obj.programs if is_prog else self.obj.maps
            for slot, what in m.contents.items():
                obj = target.get(what)
                if obj is None:
                    continue
                self.obj.maps[name].update(struct.pack("<I", slot),
                                           struct.pack("<I", obj.fileno()))


    # -- programs ------------------------------------------------------------------------
    def _own_program(self, name: str, prog) -> None:
        if log.enabled():       # prog.type names the type through an enum: only when shown
            log.debug("program %r: loaded as %s", name, getattr(prog.type, "name", prog.type))
        prog._owner, prog._owner_name = self.obj, name   # attach_*() links go to obj.links
        for mname, m in self.obj.maps.items():
            if not mname.startswith(".rodata"):
                continue
            # as libbpf: bind every .rodata* map to every program, so they and the
            # metadata tools read from them (bpftool's "metadata") live as long as any
            # program does; a kernel without BPF_PROG_BIND_MAP (< 5.10) just goes without
            try:
                prog.bind_map(m)
            except errors.KernelError as e:
                log.debug("program %r: cannot bind %s (%s)", name, mname, e)
                break
        self.obj.programs[name] = prog
        self.obj._owned.append(prog)
