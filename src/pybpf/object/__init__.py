"""BPF objects: parse a libbpf-style ``.bpf.o`` into an :class:`ObjectSpec` (pure Python),
then :func:`load` it into the kernel as an :class:`Object`.

Names are imported on first use: a warm start replays a load plan through ``loader`` and
never needs the parsing modules.
"""

from __future__ import annotations

__all__ = ["ObjectSpec", "ProgramSpec", "MapSpec", "Reloc", "RelocKind", "GlobalVar", "Extern",
           "SectionInfo", "parse_section", "Object", "load"]

_WHERE = {"ObjectSpec": "spec", "ProgramSpec": "spec", "MapSpec": "spec", "Reloc": "spec",
          "RelocKind": "spec", "GlobalVar": "spec", "Extern": "spec",
          "SectionInfo": "sections", "parse_section": "sections", "Object": "loader",
          "load": "loader"}


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'pybpf.object' has no attribute {name!r}")
    # not importlib.import_module: importing importlib (and warnings) costs a start ~0.4 ms
    return getattr(__import__(f"{__name__}.{mod}", fromlist=[name]), name)
