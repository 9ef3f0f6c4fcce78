"""BPF objects: parse a libbpf-style ``.bpf.o`` into an :class:`ObjectSpec` (pure Python)."""

from __future__ import annotations

from .spec import Extern, GlobalVar, MapSpec, ObjectSpec, ProgramSpec, Reloc, RelocKind
from .sections import SectionInfo, parse_section

__all__ = ["ObjectSpec", "ProgramSpec", "MapSpec", "Reloc", "RelocKind", "GlobalVar", "Extern",
           "SectionInfo", "parse_section"]
