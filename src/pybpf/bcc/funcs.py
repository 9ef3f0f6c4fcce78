"""bcc's calls on the text's functions and tables as a whole: ``load_funcs``, ``dump_func``,
and the listings of :mod:`.disassembler` (``disassemble_func``, ``decode_table``)."""

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
        return self._func_code(func_name)[0]

    def disassemble_func(self, func_name) -> str:
        """bcc's listing of function ``func_name``'s instructions, a table's load showing
        the table's descriptor (``r1 = <map at fd #4>``) as bcc's does (and a global's, its
        data map's: ``<map value at fd #5 +0>``)."""
        from ..asm.instruction import LD_IMM64
        from ..asm.opcodes import PSEUDO_MAP_FD, PSEUDO_MAP_VALUE
        from ..object.spec import RelocKind
        from .disassembler import disassemble_prog
        code, relocs = self._func_code(func_name)
        code = bytearray(code)
        maps = self._obj.maps if self._obj is not None else {}
        for r in relocs:
            m = maps.get(r.target) if r.kind in (RelocKind.MAP, RelocKind.DATA) else None
            if m is None or code[r.offset] != LD_IMM64:
                continue
            o, data = r.offset, r.kind == RelocKind.DATA
            code[o + 1] = (code[o + 1] & 0x0F) | (PSEUDO_MAP_VALUE if data else PSEUDO_MAP_FD) << 4
            code[o + 4:o + 8] = m.fileno().to_bytes(4, "little")
            if data:                # the second half holds the offset into the value
                code[o + 12:o + 16] = (r.addend & 0xFFFFFFFF).to_bytes(4, "little")
        return disassemble_prog(func_name, bytes(code))

    def decode_table(self, table_name, sizeinfo: bool = False) -> str:
        """bcc's layout of table ``table_name``: its key and value types as C."""
        from .disassembler import decode_map
        t = self[table_name]
        return decode_map(table_name, t, t.map.type, sizeinfo=sizeinfo)

    def _func_code(self, func_name) -> tuple[bytes, list]:
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
        return bytes(insns), p.relocations
