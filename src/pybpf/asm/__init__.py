"""Assemble and disassemble eBPF instructions by hand (for tests and small programs).

    from pybpf.asm import Instructions, mov64, jeq, exit_, R0, R1
    prog = Instructions([mov64(R0, 0), jeq(R1, 0, "out"), mov64(R0, 1),
                         exit_(label="out")]).assemble()
"""

from .builders import *  # noqa: F401,F403
from .builders import helper_id, helper_names, reg
from .disasm import disassemble, format_insn
from .instruction import AsmError, Instruction, Instructions, decode

__all__ = ["AsmError", "Instruction", "Instructions", "decode", "disassemble", "format_insn",
           "helper_id", "helper_names", "reg"]
