"""BPF arenas (``BPF_MAP_TYPE_ARENA``): ``__arena`` globals and the arena's user mapping.

clang puts globals declared in address space 1 (``__arena``) in the section
``.addr_space.1``.  As libbpf does, pybpf gives them to the object's one arena map: the
programs' references to them become offsets into the arena, the initial bytes are written
through a shared mapping of the arena before any program loads, and afterwards the
globals read and write through that mapping (``obj.arena.x``, as a skeleton's
``skel->arena->x``).

The kernel's quirks: the arena's user address (``map_extra``, or wherever the first mmap
lands) is what an ``ld_imm64`` of the map's value gives a program, so the mapping must
exist before the programs load; a fixed ``map_extra`` only maps at exactly that address
and with exactly the arena's size; and kernels before the verifier took any offset into
an arena refuse an ``ld_imm64`` offset of 512 MiB or more, so the globals sit at the end
of the arena only where the kernel takes it (libbpf's rule), else at its start.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct

from .. import errors
from .._sys.uapi import MapType

SECTION = ".addr_space.1"
PAGE = mmap.PAGESIZE
_MAP_FIXED_NOREPLACE = 0x100000      # never clobber a mapping that is already there
_MAP_FAILED = ctypes.c_void_p(-1).value


def bind_globals(spec, info) -> str:
    """Give the ``__arena`` globals of ``info`` (a :class:`.globaldata.DataMapInfo` of
    ``.addr_space.1``) to the object's arena map, as initial data and variables; returns
    that map's name (what the globals' relocations point at)."""
    from .globaldata import bind_vars
    arenas = [m for m in spec.maps.values() if m.type == MapType.ARENA]
    if not arenas:
        raise errors.ELFError(f"section {SECTION!r}: __arena globals need an arena map "
                              "declared in SEC(\".maps\") (BPF_MAP_TYPE_ARENA)")
    if len(arenas) > 1:
        raise errors.ELFError(f"__arena globals with {len(arenas)} arena maps "
                              f"({', '.join(m.name for m in arenas)}): one arena map per "
                              "object is supported, as in libbpf")
    m = arenas[0]
    m.data = info.data
    m.section = SECTION
    for v in info.variables:
        v.section = m.name            # read and written through the arena's mapping
    m.variables = bind_vars(info.variables, m)
    for name, var in m.variables.items():
        cur = spec.globals.get(name)
        if cur is None or (cur.static and not var.static):
            spec.globals[name] = var
    return m.name


def size(m) -> int:
    """Bytes of the arena's user mapping: ``max_entries`` pages."""
    return PAGE * m.max_entries


def data_offset(m, full_range: bool) -> int:
    """Where the globals start in the arena: at its end where the kernel takes any
    ``ld_imm64`` offset (``full_range``), else at 0; errors when they do not fit."""
    if not m.data:
        return 0
    need = -(-len(m.data) // PAGE) * PAGE
    if need > size(m):
        raise errors.ELFError(f"map {m.name!r}: an arena of {m.max_entries} pages cannot "
                              f"hold the {len(m.data)} bytes of its __arena globals")
    return size(m) - need if full_range else 0


def full_range_offsets() -> bool:
    """Whether the verifier takes an ``ld_imm64`` map value offset past 512 MiB (libbpf's
    probe: an array map's value at +1 GiB fails on the access, not on the offset)."""
    from .._sys import attr, syscall
    from .._sys.uapi import Cmd, ProgType
    from ..fd import FD
    fd = FD(syscall.bpf(Cmd.MAP_CREATE, attr.MapCreate(
        map_type=MapType.ARRAY, key_size=4, value_size=1, max_entries=1,
        map_name=b"pybpf_probe")))
    with fd:
        # r1 = map_value(fd) + 1 GiB; r0 = 0 is missing on purpose: the load must fail
        insns = struct.pack("<BBhiBBhi", 0x18, 0x21, 0, fd.fileno(), 0, 0, 0, 1 << 30) + \
            struct.pack("<BBhi", 0x95, 0, 0, 0)
        ib = ctypes.create_string_buffer(insns, len(insns))
        lic = ctypes.create_string_buffer(b"GPL")
        log = ctypes.create_string_buffer(1024)
        a = attr.ProgLoad(prog_type=ProgType.SOCKET_FILTER, insn_cnt=len(insns) // 8,
                          insns=ctypes.addressof(ib), license=ctypes.addressof(lic),
                          prog_name=b"pybpf_probe", log_level=1, log_size=len(log),
                          log_buf=ctypes.addressof(log))
        try:
            os.close(syscall.bpf(Cmd.PROG_LOAD, a))
        except errors.KernelError:
            pass
        return b"direct value offset of" not in log.value


class ArenaMapping:
    """A shared mapping of an arena map (closed with the object that made it)."""

    def __init__(self, map_fd: int, length: int, addr: int = 0):
        libc = ctypes.CDLL(None, use_errno=True)
        mm = libc.mmap
        mm.restype = ctypes.c_void_p
        mm.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long)
        self._munmap = libc.munmap
        self._munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        flags = mmap.MAP_SHARED | (_MAP_FIXED_NOREPLACE if addr else 0)
        base = mm(addr or None, length, mmap.PROT_READ | mmap.PROT_WRITE, flags, map_fd, 0)
        if base is None or base == _MAP_FAILED or (addr and base != addr):
            err = ctypes.get_errno()
            where = f" at {addr:#x} (map_extra)" if addr else ""
            raise errors.from_errno(err, "mmap", f"arena of {length} bytes{where}")
        self.addr, self.length = base, length

    def view(self, offset: int, length: int) -> memoryview:
        """``length`` bytes of the arena from ``offset``, read and written in place."""
        if self.addr is None or offset < 0 or offset + length > self.length:
            raise ValueError("outside the arena (or the arena is unmapped)")
        return memoryview((ctypes.c_char * length).from_address(self.addr + offset)).cast("B")

    def at(self, address: int, length: int) -> memoryview:
        """``length`` bytes at a user ``address`` inside the arena: what a pointer the
        programs stored there (``bpf_arena_alloc_pages()``'s) points at."""
        if self.addr is None:
            raise ValueError("the arena is unmapped")
        return self.view(address - self.addr, length)

    def close(self) -> None:
        if self.addr is not None:
            self._munmap(self.addr, self.length)
            self.addr = None


class GlobalsWindow:
    """The arena's globals as ``globalview`` reads them: slices give bytes."""

    def __init__(self, mapping: ArenaMapping, offset: int, length: int):
        self.mapping, self.offset, self.length = mapping, offset, length

    def __getitem__(self, s: slice) -> bytes:
        return bytes(self.mapping.view(self.offset, self.length)[s])

    def __setitem__(self, s: slice, raw: bytes) -> None:
        self.mapping.view(self.offset, self.length)[s] = raw


def setup(loader, name: str, mp, m, reused: bool = False) -> int:
    """Map arena ``mp`` (object-level spec ``m``) into this process and write its globals'
    initial bytes (with ``variables=`` applied); returns where the globals start.

    A ``reused`` arena (given in ``maps=`` or found pinned) is its creator's, as in libbpf:
    its globals keep the values the creator wrote and the programs' references use the
    same offset.  It is mapped here too when its address is fixed (``map_extra``): the
    kernel lets a second mapping of an arena sit only where the first one does, so
    ``obj.arena`` then reads and writes the shared globals; otherwise it stays unmapped
    and ``obj.arena`` says why."""
    obj = loader.obj
    off = getattr(m, "arena_off", None)      # a plan's recipe: what the full load chose
    if off is None:
        off = data_offset(m, bool(m.data) and full_range_offsets())
        if loader.plan is not None:
            entry = next(e for e in reversed(loader.plan["maps"]) if e["name"] == name)
            entry["arena_off"] = off
    if reused:
        try:
            if not m.map_extra:
                raise errors.NotSupportedError(
                    "it has no fixed address (map_extra), and a second mapping of an arena "
                    "must sit where its creator's does")
            mapping = ArenaMapping(mp.fileno(), size(m), m.map_extra)
        except errors.PybpfError as e:
            obj._arena_unmapped = (f"object {obj.name!r}: arena map {name!r} was reused "
                                   f"(given or pinned) and is not mapped here: {e}")
            return off
    else:
        mapping = ArenaMapping(mp.fileno(), size(m), m.map_extra)
    obj._owned.append(mapping)
    obj._arena, obj.arena_mapping = name, mapping
    if m.data:
        if not reused:
            data = bytearray(m.data)
            for at, raw in loader.patches.get(name, ()):
                data[at:at + len(raw)] = raw
            mapping.view(off, len(data))[:] = data
        obj._mmaps[name] = GlobalsWindow(mapping, off, len(m.data))
    return off
