"""Instructions as text, in the notation of the kernel verifier and ``bpftool prog dump
xlated`` (``r1 = 0``, ``if r1 == 0x0 goto pc+2``, ``*(u32 *)(r10 -4) = r1``)."""

from __future__ import annotations

from .instruction import LD_IMM64, Instruction, decode
from .opcodes import (PSEUDO_CALL, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, AtomicOp, Class, JumpOp,
                      Mode, Size, Source, SIZE_BYTES, op_class)

_ALU = {0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=", 0x60: "<<=",
        0x70: ">>=", 0x90: "%=", 0xA0: "^=", 0xB0: "=", 0xC0: "s>>="}
_JMP = {0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>", 0x70: "s>=",
        0xA0: "<", 0xB0: "<=", 0xC0: "s<", 0xD0: "s<="}
_ATOMIC = {AtomicOp.ADD: "+=", AtomicOp.OR: "|=", AtomicOp.AND: "&=", AtomicOp.XOR: "^="}


def _imm(v: int) -> str:
    return f"{v:#x}" if v >= 0 else f"-{-v:#x}"


def _off(off: int) -> str:
    return f"+{off}" if off >= 0 else str(off)


def format_insn(ins: Instruction, helpers: dict[int, str] | None = None) -> str:
    """One instruction as text."""
    op, cls = ins.op, op_class(ins.op)
    d, s = f"r{ins.dst}", f"r{ins.src}"
    if op == LD_IMM64:
        v = ins.imm64 if ins.imm64 is not None else ins.imm
        if ins.src == PSEUDO_MAP_FD:
            return f"{d} = map[fd:{v & 0xFFFFFFFF}]"
        if ins.src == PSEUDO_MAP_VALUE:
            return f"{d} = map[fd:{v & 0xFFFFFFFF}][0]+{v >> 32}"
        return f"{d} = {_imm(v)}"
    if cls in (Class.ALU, Class.ALU64):
        w = "w" if cls == Class.ALU else "r"
        aop = op & 0xF0
        if aop == 0x80:
            return f"{w}{ins.dst} = -{w}{ins.dst}"
        if aop == 0xD0:
            kind = "be" if op & Source.X else "le"
            return f"{d} = {kind}{ins.imm} {d}"
        rhs = f"{w}{ins.src}" if op & Source.X else str(ins.imm)
        return f"{w}{ins.dst} {_ALU.get(aop, '?=')} {rhs}"
    if cls in (Class.LDX, Class.ST, Class.STX):
        size = SIZE_BYTES[Size(op & 0x18)] * 8
        mode = op & 0xE0
        if mode == Mode.ATOMIC:
            what = _ATOMIC.get(AtomicOp(ins.imm & ~AtomicOp.FETCH) if ins.imm in (
                0, 1, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1) else None)
            if ins.imm == AtomicOp.XCHG:
                return f"{s} = atomic{'64' if size == 64 else ''}_xchg((u{size} *)({d} " \
                       f"{_off(ins.off)}), {s})"
            if ins.imm == AtomicOp.CMPXCHG:
                return f"r0 = atomic{'64' if size == 64 else ''}_cmpxchg((u{size} *)({d} " \
                       f"{_off(ins.off)}), r0, {s})"
            return f"lock *(u{size} *)({d} {_off(ins.off)}) {what or '?='} {s}"
        if cls == Class.LDX:
            return f"{d} = *(u{size} *)({s} {_off(ins.off)})"
        val = s if cls == Class.STX else str(ins.imm)
        return f"*(u{size} *)({d} {_off(ins.off)}) = {val}"
    if cls in (Class.JMP, Class.JMP32):
        jop = op & 0xF0
        if jop == JumpOp.EXIT:
            return "exit"
        if jop == JumpOp.CALL:
            if ins.src == PSEUDO_CALL:
                return f"call pc{_off(ins.imm)}"
            name = (helpers or {}).get(ins.imm)
            return f"call bpf_{name}#{ins.imm}" if name else f"call #{ins.imm}"
        if jop == JumpOp.JA:
            return f"goto pc{_off(ins.off)}"
        w = "w" if cls == Class.JMP32 else "r"
        rhs = f"{w}{ins.src}" if op & Source.X else _imm(ins.imm)
        return f"if {w}{ins.dst} {_JMP.get(jop, '?')} {rhs} goto pc{_off(ins.off)}"
    return f"(op {op:#04x})"


def disassemble(raw: bytes, helpers: dict[int, str] | None = None) -> list[str]:
    """``"slot: text"`` lines for a program's bytes."""
    out, slot = [], 0
    for ins in decode(raw):
        out.append(f"{slot}: {format_insn(ins, helpers)}")
        slot += ins.slots
    return out
