"""bcc's calls on the text's functions as a whole: ``load_funcs`` and ``dump_func``."""

from __future__ import annotations

from .. import errors
from .utils import as_str


class FuncsMixin:
    """Mixed into BPF; uses its load_func, _entry, _spec and _elf."""

    def load_funcs(self, prog_type=None) -> list:
        """Every function of the text loaded as ``prog_type`` (default kprobe), as bcc's
        ``load_funcs``: the probes and the plain functions, not static helpers."""
        prog_type = self.KPROBE if prog_type is None else prog_type
        return [self.load_func(n, prog_type) for n in self._entry["programs"]]

    def dump_func(self, func_name) -> bytes:
        """The compiled instructions of function ``func_name`` (bytes, 8 per instruction,
        before the loader fills in map descriptors), as bcc's ``dump_func``."""
        from ..object.spec import ObjectSpec
        name = as_str(func_name)
        spec = self._spec or ObjectSpec.from_bytes(self._elf, name="bcc")
        p = spec.programs.get(name)
        if p is None or p.subprogram:
            raise errors.PybpfError(f"dump_func: no function {name!r} in this text "
                                    f"(functions: {sorted(self._entry['programs'])})")
        insns = p.instructions
        if not isinstance(insns, (bytes, bytearray)):
            from ..programs import encode_instructions
            insns = encode_instructions(insns)
        return bytes(insns)
