"""ObjectSpec: everything in a libbpf-style ``.bpf.o``, parsed and changeable before load.

Programs keep their raw instruction bytes plus a list of :class:`Reloc` (what each
``ld_imm64``/``call`` refers to) so the loader can link subprograms, patch map fds and
resolve externs.  Maps come from ``.maps`` (BTF-defined), legacy ``maps`` and global data
sections (``.rodata*``, ``.data*``, ``.bss*``, plus a synthetic ``.kconfig``).  The
parsing itself is in :mod:`.elfparse`.
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs milliseconds at start-up; annotations only
    from typing import Any

from .._record import Record, StrTable
from .. import elf as E
from .._sys.uapi import ProgType
from ..errors import ELFError, PybpfError
from .globaldata import GlobalVar, Extern

__all__ = ["ObjectSpec", "ProgramSpec", "MapSpec", "Reloc", "RelocKind", "GlobalVar", "Extern"]


class RelocKind(StrTable):
    """What an instruction refers to."""

    MAP = "map"            # ld_imm64 of a map (``.maps`` or legacy ``maps``) -> map fd
    DATA = "data"          # ld_imm64 into a global data map -> map value + addend
    CALL = "call"          # bpf-to-bpf call of a subprogram
    FUNC_ADDR = "func"     # ld_imm64 of a subprogram address (callback, BPF_PSEUDO_FUNC)
    KCONFIG = "kconfig"    # ld_imm64 of a ``__kconfig`` extern -> .kconfig map + addend
    KSYM = "ksym"          # ld_imm64 of a ``__ksym`` variable -> kernel address / BTF id
    KFUNC = "kfunc"        # call of a ``__ksym`` kernel function


class Reloc(Record):
    """One relocation of a program: ``offset`` is in bytes from the program's start.

    ``target`` names what it points at: a key of ``ObjectSpec.maps`` (MAP, DATA, KCONFIG),
    of ``ObjectSpec.subprograms``/``programs`` (CALL, FUNC_ADDR) or ``externs`` (KSYM,
    KFUNC).  ``addend`` is the byte offset inside a data map, or inside ``section`` of the
    called function; ``symbol`` is the ELF symbol name ("" for an in-section static call).
    """

    _fields = ('offset', 'kind', 'target', 'symbol', 'section', 'addend')

    def __init__(self, offset, kind, target, symbol="", section="", addend=0):
        self.offset = offset
        self.kind = kind
        self.target = target
        self.symbol = symbol
        self.section = section
        self.addend = addend


class ProgramSpec(Record):
    """A function of the object: an entry program, or a subprogram (``.text``)."""

    # section_offset: byte offset in its ELF section (for BTF.ext)
    # sec_info: parsed SEC(): flags, attach target, auto-attach
    # global_binding: False for static functions
    # hidden: global with hidden visibility (verify as static)
    # attach_prog/attach_func: freplace's target program (Program or fd) and function
    _fields = ('name', 'section', 'section_offset', 'instructions', 'relocations', 'type',
               'expected_attach_type', 'sec_info', 'sleepable', 'xdp_frags', 'license',
               'kern_version', 'subprogram', 'global_binding', 'hidden', 'autoload',
               'attach_prog', 'attach_func')

    def __init__(self, name, section, section_offset, instructions, relocations=None,
                 type=ProgType.UNSPEC, expected_attach_type=None, sec_info=None,
                 sleepable=False, xdp_frags=False, license="", kern_version=0,
                 subprogram=False, global_binding=True, hidden=False, autoload=True,
                 attach_prog=None, attach_func=""):
        self.name = name
        self.section = section
        self.section_offset = section_offset
        self.instructions = instructions
        self.relocations = [] if relocations is None else relocations
        self.type = type
        self.expected_attach_type = expected_attach_type
        self.sec_info = sec_info
        self.sleepable = sleepable
        self.xdp_frags = xdp_frags
        self.license = license
        self.kern_version = kern_version
        self.subprogram = subprogram
        self.global_binding = global_binding
        self.hidden = hidden
        self.autoload = autoload
        self.attach_prog = attach_prog
        self.attach_func = attach_func

    @property
    def insn_count(self) -> int:
        """Number of 8-byte instruction slots."""
        return len(self.instructions) // 8


class MapSpec(Record):
    """A map to create; global-data maps also carry ``data`` and a ``variables`` table."""

    # key_type_id: object-BTF ids (0 when unknown)
    # contents: slot -> map or program name
    # data: initial value of global data maps (and struct_ops maps, in the object's layout)
    # struct_ops: a StructOps (which kernel struct, member -> program) for struct_ops maps
    _fields = ('name', 'type', 'key_size', 'value_size', 'max_entries', 'flags', 'numa_node',
               'map_extra', 'pinning', 'key_type_id', 'value_type_id', 'inner', 'contents',
               'section', 'section_offset', 'kernel_name', 'data', 'variables', 'autocreate',
               'struct_ops', 'pin_name')

    def __init__(self, name, type, key_size=0, value_size=0, max_entries=0, flags=0,
                 numa_node=0, map_extra=0, pinning=0, key_type_id=0, value_type_id=0,
                 inner=None, contents=None, section="", section_offset=0, kernel_name="",
                 data=None, variables=None, autocreate=True, struct_ops=None, pin_name=""):
        self.name = name
        self.type = type
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.flags = flags
        self.numa_node = numa_node
        self.map_extra = map_extra
        self.pinning = pinning
        self.key_type_id = key_type_id
        self.value_type_id = value_type_id
        self.inner = inner
        self.contents = {} if contents is None else contents
        self.section = section
        self.section_offset = section_offset
        self.kernel_name = kernel_name
        self.data = data
        self.variables = {} if variables is None else variables
        self.autocreate = autocreate
        self.struct_ops = struct_ops
        # pinned maps: the pin's path under the pin root (default: the map's name)
        self.pin_name = pin_name

    def get_var(self, name: str) -> bytes:
        """Current initial bytes of global variable ``name`` in this data map."""
        return self._var(name).get()

    def set_var(self, name: str, value: Any) -> None:
        """Set the initial value of global ``name`` (int, bool, float, str or bytes)."""
        self._var(name).set(value)

    def _var(self, name: str) -> GlobalVar:
        try:
            return self.variables[name]
        except KeyError:
            raise KeyError(f"map {self.name!r} has no variable {name!r}; "
                           f"known: {sorted(self.variables)}") from None


class ObjectSpec:
    """A parsed BPF object: programs, maps, globals, externs, BTF; edit freely before load."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.license = ""
        # an ELF object with no "license" section: its programs load with an empty license,
        # as libbpf loads them (GPL-only helpers refused); hand-built specs default to GPL
        self.no_license = False
        self.kern_version = 0
        self.programs: dict[str, ProgramSpec] = {}
        self.subprograms: dict[str, ProgramSpec] = {}
        self.maps: dict[str, MapSpec] = {}
        self.globals: dict[str, GlobalVar] = {}
        self.externs: dict[str, Extern] = {}
        self.btf: Any = None
        self.btf_ext: Any = None

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> ObjectSpec:
        """Parse the object at ``path``; its name is the file name up to the first dot."""
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_bytes(data, name=os.path.basename(os.fspath(path)).split(".")[0])

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "") -> ObjectSpec:
        """Parse an ELF BPF object held in memory."""
        spec = cls(name)
        try:
            from .elfparse import Builder
            Builder(spec, E.ELFFile(data)).build()
        except PybpfError:
            raise
        except (AttributeError, TypeError, LookupError, ValueError, struct.error, OverflowError,
                RecursionError) as e:   # BTF of unexpected shape: report, never crash
            raise ELFError(f"malformed BPF object: {type(e).__name__}: {e}") from None
        return spec

    # -- conveniences ----------------------------------------------------------------------

    def set_global(self, name: str, value: Any) -> None:
        """Set the initial value of global variable ``name`` (before load)."""
        try:
            var = self.globals[name]
        except KeyError:
            raise KeyError(f"no global variable {name!r}; known: {sorted(self.globals)}") \
                from None
        var.set(value)

    def set_attach_target(self, program: str, target, func: str = "") -> None:
        """libbpf's bpf_program__set_attach_target: freplace ``program`` replaces function
        ``func`` (default: the section's) of loaded program ``target`` (a Program or fd);
        with ``target`` None, an fentry/fexit/lsm/tp_btf program loads against kernel
        hook ``func`` instead of the one its section names."""
        from .freplace import set_target
        set_target(self, program, target, func)

    @property
    def struct_ops(self) -> dict:
        """struct_ops maps by name -> :class:`~pybpf.object.structops.StructOps`."""
        return {n: m.struct_ops for n, m in self.maps.items() if m.struct_ops is not None}

    def functions(self) -> dict[str, ProgramSpec]:
        """Programs and subprograms together, by name."""
        return {**self.subprograms, **self.programs}
