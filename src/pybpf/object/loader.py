"""Load an :class:`ObjectSpec` into the kernel: BTF, maps, CO-RE, linking, programs.

``pybpf.load(path_or_bytes_or_spec)`` returns an :class:`Object` that owns every fd it
made; ``close()`` (or ``with``) releases them all, links first.  Objects given as bytes or
a path are loaded from a cached load plan when one exists for this kernel (see
:mod:`.plan`), which skips parsing, CO-RE and linking on a warm start.
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs milliseconds at start-up; annotations only
    from collections.abc import Iterable
    from typing import Any

from .. import errors, log
from ..fd import FD
from .builder import _Loader

# The parsing, CO-RE and linking modules are imported where the full path runs: a warm
# start replays a plan and never needs them.


def load(source, *, maps: dict[str, Any] | None = None, pin_root: str | None = None,
         log_level: int = 0, kernel_btf=None,
         variables: dict[str, Any] | None = None, name: str | None = None,
         programs: Iterable[str] | None = None, cache_key: str | None = None,
         sections: dict[str, str] | None = None, core_targets=None,
         max_entries: dict[str, int] | None = None,
         map_flags: dict[str, int] | None = None,
         autocreate: dict[str, bool] | None = None, includes=(), cflags=()) -> "Object":
    """Load an object (a spec, ELF bytes, a ``.bpf.o`` path, or a ``.bpf.c`` path, which is
    compiled through pybpf's cache) and return the loaded :class:`Object`.

    ``includes`` (directories) and ``cflags`` go to clang for a C source, as in
    :func:`pybpf.compile`: a program whose ``#include "common.h"`` lives elsewhere.

    ``maps`` replaces maps of the object with existing ones (by name: a Map or an fd), as
    libbpf's ``bpf_map__reuse_fd`` does; ``pin_root`` is where maps marked
    ``LIBBPF_PIN_BY_NAME`` are pinned or reused (default /sys/fs/bpf); ``variables`` sets
    global variables (``.rodata`` constants included) by name before load, as a libbpf
    skeleton's ``skel->rodata->x = ...`` does.  ``name`` names an object given as bytes or
    a path (it prefixes the kernel names of its global data maps, as in libbpf).
    ``programs`` loads only the named programs of bytes or a path (libbpf's autoload).
    ``cache_key`` is an identity of the object bytes the caller already has (a hash of
    its sources, say); it names the load plan instead of a hash of the bytes.
    ``sections`` loads programs as if their SEC() said otherwise (program name -> section
    name, e.g. ``{"f": "xdp"}``): libbpf's bpf_program__set_type() and friends.
    ``kernel_btf`` (a :class:`pybpf.btf.Spec`) stands for the kernel's BTF in CO-RE
    (libbpf's btf_custom_path); ``core_targets`` (BTF specs, or ObjectSpecs for their BTF)
    are searched for CO-RE candidates the kernel lacks, after it (cilium/ebpf's
    ExtraRelocationTargets: a type whose layout another object decides at run time).
    With ``cache_key``, ``source`` may also be a function returning the object's bytes:
    it is called only if no plan replays (a tool's warm start then never reads its object).
    struct_ops maps (``SEC(".struct_ops")``/``SEC(".struct_ops.link")``) are created and
    their callbacks loaded here; :meth:`Object.attach` registers them.  freplace programs
    need their target first (:meth:`ObjectSpec.set_attach_target`).
    ``max_entries`` creates the named maps with another size (libbpf's
    bpf_map__set_max_entries): a tool gives 1 to a map its options leave unused, as a hash
    map is preallocated whole at creation; the load plan keeps the object's sizes.
    ``map_flags`` creates the named maps with these flags instead of the object's
    (libbpf's bpf_map__set_map_flags): say, ``BPF_F_NO_PREALLOC`` for a hash map whose
    entries need not all be allocated at every start; the plan keeps the object's flags.
    ``autocreate`` (map -> False) leaves maps uncreated (libbpf's
    bpf_map__set_autocreate): say, a map of a type the kernel lacks that only programs
    left out use.
    """
    data = None
    fetch = None
    if (includes or cflags) and not (isinstance(source, (str, os.PathLike)) and
                                     os.fspath(source).endswith(".c")):
        raise ValueError("includes= and cflags= are for a C source (a .bpf.c path)")
    if callable(source) and cache_key is not None:
        fetch, data, name = source, b"", name or ""
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), name or ""
    elif isinstance(source, (str, os.PathLike)):
        if os.fspath(source).endswith(".c"):
            # a BPF C source: compiled through the cache; a warm start knows the object
            # from a source record and asks the compiler only if no plan replays
            from ..srcrecord import object_of
            data, ident, fetch = object_of(os.fspath(source), includes, cflags)
            cache_key = cache_key or ident
        else:
            with open(source, "rb") as f:
                data = f.read()
        name = name or os.path.basename(os.fspath(source)).split(".")[0]
    key = None
    only = None if programs is None else sorted(programs)
    if data is not None and kernel_btf is None and not core_targets and log_level == 0 and \
            not os.environ.get("PYBPF_NO_PLAN"):     # plans off: none read, none recorded
        from . import plan
        label = name if only is None else f"{name}|{','.join(only)}"
        if sections:
            label += "|" + ",".join(f"{k}={v}" for k, v in sorted(sections.items()))
        if autocreate:
            label += "|" + ",".join(f"{k}:{int(bool(v))}" for k, v in sorted(autocreate.items()))
        key = plan.key(data, label, identity=cache_key)
        p = plan.read(key)
        if p is not None:
            obj = _replay(p, fetch or data, name, maps or {}, pin_root, variables or {},
                          max_entries or {}, map_flags or {})
            if obj is not None:
                log.debug("object %r: loaded from its plan (%d maps, %d programs)", name,
                          len(obj.maps), len(obj.programs))
                return _sized(obj, max_entries, map_flags)
            log.debug("object %r: plan replay failed; taking the full path", name)
        else:
            log.debug("object %r: no load plan yet; full load", name)
    if fetch is not None:
        data = fetch()
    if data is not None:
        from .spec import ObjectSpec
        spec = ObjectSpec.from_bytes(data, name=name)
        if only is not None:
            unknown = sorted(set(only) - set(spec.programs))
            if unknown:
                where = f"object {name!r}" if name else "the object"
                raise KeyError(f"programs: no program {', '.join(map(repr, unknown))} in "
                               f"{where}; programs: {sorted(spec.programs)}")
            for pname, p in spec.programs.items():
                p.autoload = pname in only
    else:
        spec = source
    for mname, on in (autocreate or {}).items():
        if mname not in spec.maps:
            raise KeyError(f"autocreate: no map {mname!r}; known: {sorted(spec.maps)}")
        spec.maps[mname].autocreate = bool(on)
    if sections:                        # a spec given takes them too (set_section on it)
        from .fullload import set_section
        for pname, section in sections.items():
            set_section(spec, pname, section)
    obj = Object(spec)
    from .fullload import FullLoader
    loader = FullLoader(obj, maps or {}, pin_root, log_level, kernel_btf,
                        record=key is not None, core_targets=core_targets or ())
    loader.sizes = dict(max_entries or {})
    loader.flags = dict(map_flags or {})
    try:
        loader.set_globals(variables or {})
        loader.run(spec)
    except BaseException:
        obj.close()
        raise
    if key is not None and loader.plan is not None:
        from .planrecord import write
        write(key, loader.plan)
        log.debug("object %r: load plan recorded", name)
    return _sized(obj, max_entries, map_flags)


def _sized(obj: "Object", sizes: dict[str, int] | None,
           flags: dict[str, int] | None = None) -> "Object":
    """``obj``, once every map ``max_entries=`` and ``map_flags=`` name is one of its own
    (a misspelt name would otherwise leave the map as the object has it without a word)."""
    for what, names in (("max_entries", sizes), ("map_flags", flags)):
        unknown = sorted(set(names or ()) - set(obj.maps))
        if unknown:
            obj.close()
            raise KeyError(f"{what}: no map {unknown[0]!r}; known: {sorted(obj.maps)}")
    return obj


def _replay(p: dict, data: bytes, name: str, reuse, pin_root, variables,
            sizes, flags) -> "Object | None":
    """The object loaded from plan ``p``; None when replaying failed (the caller then takes
    the full path, whose errors say more)."""
    try:
        obj = Object(None, name=name, data=data, plan=p)
    except (KeyError, TypeError, ValueError):
        return None                             # a plan of another shape: not ours to use
    loader = _Loader(obj, reuse, pin_root, 0, None)
    loader.sizes, loader.flags = sizes, flags
    try:
        loader.set_globals(variables)
    except BaseException:
        obj.close()
        raise                                   # an unknown variable: same error either way
    try:
        loader.replay(p)
    except (errors.PybpfError, LookupError, TypeError, ValueError, AttributeError):
        # the kernel said no (the full path explains why better), or the plan is damaged
        obj.close()
        return None
    except BaseException:
        obj.close()
        raise
    return obj


class GlobalsMixin:
    """:class:`~pybpf.object.loader.Object`'s typed views of its globals and maps (built by
    :mod:`.globalview`, imported on first use: a tool's start needs none of it)."""

    # -- typed globals: obj.bss.x, obj.data.y = 1, obj.rodata.z ------------------------
    @property
    def bss(self):
        """``.bss`` variables as attributes, typed by BTF (see
        :class:`~pybpf.object.globalview.DataSection`)."""
        return self.datasec(".bss")

    @property
    def data(self):
        """``.data`` variables as attributes, typed by BTF; writable after load."""
        return self.datasec(".data")

    @property
    def rodata(self):
        """``.rodata`` (``const volatile``) variables; read-only after load."""
        return self.datasec(".rodata")

    @property
    def arena(self):
        """The ``__arena`` globals, read and written in the arena's shared memory
        (``skel->arena->x`` of a libbpf skeleton)."""
        if self._arena is None:
            if self._arena_unmapped:
                raise KeyError(self._arena_unmapped)
            raise KeyError(f"object {self.name!r} has no arena map")
        return self.datasec(self._arena)

    def datasec(self, section: str):
        """The variables of any data section (``.data.custom``, ``.rodata.cfg``...)."""
        if section not in self.maps:
            known = sorted(n for n in self.maps
                           if n.startswith((".data", ".bss", ".rodata", ".kconfig")))
            raise KeyError(f"object {self.name!r} has no {section} section; data sections: "
                           f"{known}")
        from .globalview import DataSection
        return DataSection(self, section)

    def typed_map(self, name: str):
        """Map ``name`` with keys and values decoded by its BTF types (ints, str for
        ``char[N]``, tuples for arrays, ctypes instances for structs) and written with the
        checks of ``obj.bss.x = ...`` (a dict or a ctypes instance for a struct, TypeError
        or OverflowError for what does not fit); ``obj.maps[name]`` stays raw bytes.  The
        view shares the map's fd: close the object, not the view."""
        from .globalview import typed_map
        return typed_map(self, name)


class Object(GlobalsMixin):
    """A loaded object: ``programs`` and ``maps`` by name, ``links`` from :meth:`attach`;
    global variables as ``bss``/``data``/``rodata`` (see :class:`GlobalsMixin`)."""

    def __init__(self, spec, *, name: str | None = None, data: bytes | None = None,
                 plan: dict | None = None):
        self._spec = spec
        self._data = data
        self._plan = plan
        self.name = spec.name if spec is not None else (name or "")
        self.programs: dict[str, Any] = {}
        self.maps: dict[str, Any] = {}
        self.links: list[Any] = []
        self.btf_fd: FD | None = None
        self._owned: list[Any] = []    # everything to close, in creation order
        self.usdt_spec_ids = 0         # next free id in usdt.bpf.h's spec map
        self.skipped: dict[str, str] = {}   # program -> why attach(skip_missing=) skipped it
        self._struct_ops: dict[str, Any] = {}   # struct_ops map -> its value to register
        if spec is not None:
            from .fullload import spec_globals
            self._globals = spec_globals(spec)
        else:
            self._globals = dict(plan["globals"])
        self._codec = None             # typed globals (globalview.codec)
        self._mmaps: dict[str, Any] = {}
        self._arena: str | None = None     # the arena map's name, once mapped (arena.py)
        self._arena_unmapped = ""           # why a reused arena is not mapped (arena.py)
        # the arena's shared mapping (addr, length, view(), at(address)): None without one
        self.arena_mapping = None

    @property
    def spec(self):
        """The parsed object (on a plan replay, parsed from the ELF bytes on first use)."""
        if self._spec is None:
            from .spec import ObjectSpec
            if callable(self._data):            # load(fetch, cache_key=...)'s bytes
                self._data = self._data()
            self._spec = ObjectSpec.from_bytes(self._data, name=self.name)
        return self._spec

    def _program_spec(self, name: str):
        if self._spec is None and self._plan is not None:
            from .plan import program_section
            entry = next(e for e in self._plan["progs"] if e["name"] == name)
            return program_section(entry)
        return self.spec.programs[name]

    def attach(self, names: Iterable[str] | None = None, *,
               skip_missing: bool = False) -> list:
        """Attach programs whose section names their hook (tracepoint/..., raw_tp/...,
        tp_btf/..., fentry/..., lsm/..., uprobe/path:func, iter/task, ...), as a libbpf
        skeleton's ``__attach()``; returns the new links (also kept in ``links``).
        With no ``names``, struct_ops maps are registered too (:meth:`attach_struct_ops`).

        With no ``names``, programs whose hook needs a run-time argument (tc, xdp, a
        uprobe without a target...) are left for their ``attach_*()`` call; naming one
        raises ValueError saying which call it needs, and an unknown name KeyError.
        All or nothing: if one program fails, the links made by this call are closed.
        ``skip_missing=True`` instead skips programs whose hook this kernel lacks
        (NotSupportedError, NotFoundError) and records why in ``skipped``.
        """
        from .attach import attach_all
        return attach_all(self, names, skip_missing)

    def attach_struct_ops(self, name: str, *, replace=None):
        """Register struct_ops map ``name`` (``SEC(".struct_ops")``: a map update;
        ``SEC(".struct_ops.link")``: a BPF link), as libbpf's bpf_map__attach_struct_ops;
        returns the Link (kept in ``links``) whose close() unregisters it.  :meth:`attach`
        with no names registers every struct_ops map.  ``replace=link`` swaps the map of
        an existing struct_ops link for this one (bpf_link__update_map)."""
        from .structops_load import attach
        return attach(self, name, replace)

    def _var(self, name: str) -> tuple:
        try:
            return self._globals[name]
        except KeyError:
            raise KeyError(f"no global variable {name!r}; known: {sorted(self._globals)}") \
                from None

    def global_value(self, name: str) -> bytes:
        """Current bytes of a global variable, read from its map (after load)."""
        section, offset, size = self._var(name)[:3]
        mm = self._mmaps.get(section)
        if mm is not None:
            return bytes(mm[offset:offset + size])
        m = self.maps[section]
        return bytes(m.lookup_raw(struct.pack("<I", 0)))[offset:offset + size]

    def set_global(self, name: str, value: Any) -> None:
        """Write a ``.data``/``.bss`` global of the loaded object (``.rodata`` is frozen);
        checked against its BTF type as ``obj.bss.name = value`` is."""
        from . import globalview
        globalview.write(self, name, value)

    # -- pinning on request (libbpf's bpf_object__pin_maps/pin_programs) -------------------
    def pin_maps(self, path: str) -> list[str]:
        """Pin every map as ``path/<map name>`` (bpffs; the directory is created); returns
        the paths.  Maps pinned by name at load are already pinned and are skipped."""
        return self._pin(path, self.maps)

    def pin_programs(self, path: str) -> list[str]:
        """Pin every program as ``path/<program name>``; returns the paths."""
        return self._pin(path, self.programs)

    def pin(self, path: str) -> list[str]:
        """Pin maps and programs under ``path`` (as ``bpftool prog loadall ... pinmaps``)."""
        return self.pin_maps(path) + self.pin_programs(path)

    def unpin(self, paths) -> None:
        """Remove pins made by :meth:`pin` and friends."""
        from .. import bpffs
        for p in paths:
            bpffs.unpin(p)

    def _pin(self, path: str, items: dict) -> list[str]:
        from .. import bpffs
        bpffs.ensure_mounted()
        os.makedirs(path, exist_ok=True)
        done = []
        try:
            for name, item in items.items():
                target = os.path.join(path, name.lstrip("."))
                if os.path.exists(target):
                    continue      # pinned by name at load (LIBBPF_PIN_BY_NAME), or before
                item.pin(target)
                done.append(target)
        except BaseException:
            self.unpin(done)
            raise
        return done

    def close(self) -> None:
        for link in reversed(self.links):
            link.close()
        self.links.clear()
        for res in reversed(self._owned):
            res.close()
        self._owned.clear()
        self._mmaps.clear()
        self.programs.clear()
        self.maps.clear()

    def __enter__(self) -> "Object":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Object {self.name!r} programs={list(self.programs)} maps={list(self.maps)}>"
