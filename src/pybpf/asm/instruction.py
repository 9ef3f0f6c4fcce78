"""One eBPF instruction (8 bytes; ld_imm64 takes two slots) and instruction lists with
labels, encoded to and decoded from the kernel's format."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .. import errors
from .opcodes import Class, JumpOp, Mode, Size, op_class

_INSN = struct.Struct("<BBhi")
LD_IMM64 = Class.LD | Size.DW | Mode.IMM       # 0x18


class AsmError(errors.PybpfError):
    """An instruction that cannot be encoded or decoded, or an unknown label."""


@dataclass
class Instruction:
    """``op`` dst, src, off, imm; ``imm64`` for ld_imm64. ``label`` names this instruction
    (a jump or call target); ``target`` is a label this jump/call goes to."""

    op: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    imm64: int | None = None
    label: str | None = None
    target: str | None = None

    @property
    def slots(self) -> int:
        return 2 if self.op == LD_IMM64 else 1

    def encode(self) -> bytes:
        if not (0 <= self.dst <= 10 and 0 <= self.src <= 10 or self.op == LD_IMM64):
            raise AsmError(f"register out of range in {self}")
        if not -0x8000 <= self.off <= 0x7FFF:
            raise AsmError(f"offset {self.off} does not fit 16 bits")
        regs = (self.dst & 0xF) | (self.src & 0xF) << 4
        if self.op == LD_IMM64:
            v = self.imm64 if self.imm64 is not None else self.imm
            v &= (1 << 64) - 1
            lo, hi = _s32(v & 0xFFFFFFFF), _s32(v >> 32)
            return _INSN.pack(self.op, regs, self.off, lo) + _INSN.pack(0, 0, 0, hi)
        if not -(1 << 31) <= self.imm < (1 << 32):
            raise AsmError(f"immediate {self.imm} does not fit 32 bits")
        return _INSN.pack(self.op, regs, self.off, _s32(self.imm & 0xFFFFFFFF))

    def is_jump(self) -> bool:
        cls = op_class(self.op)
        return cls in (Class.JMP, Class.JMP32) and (self.op & 0xF0) not in (JumpOp.CALL,
                                                                           JumpOp.EXIT)

    def is_call(self) -> bool:
        return op_class(self.op) == Class.JMP and (self.op & 0xF0) == JumpOp.CALL


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


class Instructions(list):
    """A list of :class:`Instruction` whose jumps may name labels; ``assemble()`` resolves
    them to slot offsets and returns the program bytes."""

    def assemble(self) -> bytes:
        slot_of: dict[str, int] = {}
        pos = 0
        for ins in self:
            if ins.label is not None:
                if ins.label in slot_of:
                    raise AsmError(f"label {ins.label!r} defined twice")
                slot_of[ins.label] = pos
            pos += ins.slots
        out = bytearray()
        pos = 0
        for ins in self:
            if ins.target is not None:
                if ins.target not in slot_of:
                    raise AsmError(f"unknown label {ins.target!r}")
                rel = slot_of[ins.target] - pos - 1
                if ins.is_call():
                    ins = Instruction(ins.op, ins.dst, ins.src, ins.off, rel)
                else:
                    ins = Instruction(ins.op, ins.dst, ins.src, rel, ins.imm)
            out += ins.encode()
            pos += ins.slots
        return bytes(out)


def decode(raw: bytes) -> list[Instruction]:
    """Instructions of a program's bytes (ld_imm64 folded into one entry)."""
    if len(raw) % 8:
        raise AsmError(f"program is {len(raw)} bytes, not a multiple of 8")
    out: list[Instruction] = []
    i, n = 0, len(raw) // 8
    while i < n:
        op, regs, off, imm = _INSN.unpack_from(raw, i * 8)
        if op == LD_IMM64:
            if i + 1 >= n:
                raise AsmError(f"ld_imm64 at slot {i} is missing its second half")
            _, _, _, hi = _INSN.unpack_from(raw, (i + 1) * 8)
            v = (imm & 0xFFFFFFFF) | (hi & 0xFFFFFFFF) << 32
            out.append(Instruction(op, regs & 0xF, regs >> 4, off, imm, imm64=v))
            i += 2
            continue
        out.append(Instruction(op, regs & 0xF, regs >> 4, off, imm))
        i += 1
    return out
