"""BPF objects: parse a libbpf-style ``.bpf.o`` into an :class:`ObjectSpec` (pure Python),
then :func:`load` it into the kernel as an :class:`Object`."""

from __future__ import annotations

from .spec import Extern, GlobalVar, MapSpec, ObjectSpec, ProgramSpec, Reloc, RelocKind
from .sections import SectionInfo, parse_section

__all__ = ["ObjectSpec", "ProgramSpec", "MapSpec", "Reloc", "RelocKind", "GlobalVar", "Extern",
           "SectionInfo", "parse_section", "Object", "load"]


def __getattr__(name: str):
    # the loader pulls in kernel-facing modules; parsing alone should not pay for them
    if name in ("Object", "load"):
        from . import loader
        return getattr(loader, name)
    raise AttributeError(f"module 'pybpf.object' has no attribute {name!r}")
