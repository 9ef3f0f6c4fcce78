"""Readable constructors for instructions, e.g. ``mov64(R0, 1)``, ``jeq(R1, 0, "out")``,
``call("map_lookup_elem")``, ``exit_()``; they build :class:`Instruction` values."""

from __future__ import annotations

from .instruction import LD_IMM64, AsmError, Instruction
from .opcodes import (PSEUDO_CALL, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, ALUOp, AtomicOp, Class,
                      JumpOp, Mode, Size, Source, BYTES_SIZE)

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)
FP = R10

def helper_id(name: str) -> int:
    """The id of helper ``name`` (``map_lookup_elem`` or ``bpf_map_lookup_elem``), from
    the UAPI's table, else the running kernel's BTF (a helper newer than the table)."""
    from .helpernames import NAMES
    name = name.removeprefix("bpf_")
    if name in NAMES[1:]:
        return NAMES.index(name)
    for i, n in helper_names().items():
        if n == name:
            return i
    raise AsmError(f"unknown helper {name!r}")


def helper_names() -> dict[int, str]:
    """id -> name for every helper: the UAPI's table (which names helpers an older
    running kernel lacks), plus any newer ones the running kernel's BTF names."""
    from .helpernames import NAMES
    names = dict(enumerate(NAMES))
    try:
        from ..btf.kernel import load_vmlinux
        from ..btf.types import Kind
        spec = load_vmlinux()
        ids = spec.find("bpf_func_id", Kind.ENUM)
        if ids:
            for v in spec[ids[0]].values:
                if not v.name.startswith("__"):
                    names.setdefault(v.value, v.name.removeprefix("BPF_FUNC_"))
    except Exception:   # noqa: BLE001 - no BTF here: the table is all there is
        pass
    return names


def _alu(cls: int, op: int, dst: int, src_or_imm, label=None) -> Instruction:
    if isinstance(src_or_imm, Reg):
        return Instruction(cls | op | Source.X, dst, int(src_or_imm), label=label)
    return Instruction(cls | op | Source.K, dst, imm=int(src_or_imm), label=label)


class Reg(int):
    """A register operand, so ``mov64(R0, reg(R1))`` is a register move, not an
    immediate."""


def reg(r: int) -> Reg:
    return Reg(r)


def _make_alu(op: int, cls: int):
    def f(dst: int, src_or_imm=0, *, label: str | None = None) -> Instruction:
        return _alu(cls, op, dst, src_or_imm, label)
    f.__doc__ = f"{ALUOp(op).name.lower()} (class {Class(cls).name})"
    return f


add64, sub64, mul64, div64 = (_make_alu(o, Class.ALU64) for o in
                              (ALUOp.ADD, ALUOp.SUB, ALUOp.MUL, ALUOp.DIV))
or64, and64, lsh64, rsh64 = (_make_alu(o, Class.ALU64) for o in
                             (ALUOp.OR, ALUOp.AND, ALUOp.LSH, ALUOp.RSH))
mod64, xor64, mov64, arsh64 = (_make_alu(o, Class.ALU64) for o in
                               (ALUOp.MOD, ALUOp.XOR, ALUOp.MOV, ALUOp.ARSH))
add32, sub32, mov32, and32 = (_make_alu(o, Class.ALU) for o in
                              (ALUOp.ADD, ALUOp.SUB, ALUOp.MOV, ALUOp.AND))


def neg64(dst: int) -> Instruction:
    return Instruction(Class.ALU64 | ALUOp.NEG, dst)


def ld_imm64(dst: int, value: int, *, src: int = 0) -> Instruction:
    return Instruction(LD_IMM64, dst, src, imm64=value)


def ld_map_fd(dst: int, fd: int) -> Instruction:
    """``dst`` = the map with file descriptor ``fd`` (the kernel swaps in its address)."""
    return Instruction(LD_IMM64, dst, PSEUDO_MAP_FD, imm64=fd & 0xFFFFFFFF)


def ld_map_value(dst: int, fd: int, offset: int = 0) -> Instruction:
    """``dst`` = address of byte ``offset`` of an array map's value 0 (global data)."""
    return Instruction(LD_IMM64, dst, PSEUDO_MAP_VALUE,
                       imm64=(fd & 0xFFFFFFFF) | (offset & 0xFFFFFFFF) << 32)


def _size(nbytes: int) -> int:
    try:
        return BYTES_SIZE[nbytes]
    except KeyError:
        raise AsmError(f"memory access size must be 1, 2, 4 or 8, not {nbytes}") from None


def load(dst: int, src: int, off: int = 0, size: int = 8) -> Instruction:
    """``dst = *(u<size*8> *)(src + off)``."""
    return Instruction(Class.LDX | _size(size) | Mode.MEM, dst, src, off)


def store(dst: int, off: int, src: int, size: int = 8) -> Instruction:
    """``*(u<size*8> *)(dst + off) = src`` (a register)."""
    return Instruction(Class.STX | _size(size) | Mode.MEM, dst, src, off)


def store_imm(dst: int, off: int, imm: int, size: int = 8) -> Instruction:
    """``*(u<size*8> *)(dst + off) = imm``."""
    return Instruction(Class.ST | _size(size) | Mode.MEM, dst, 0, off, imm)


def atomic(op: int, dst: int, off: int, src: int, size: int = 8) -> Instruction:
    """An atomic read-modify-write on ``*(dst + off)`` with ``src`` (AtomicOp)."""
    if size not in (4, 8):
        raise AsmError("atomics are 4 or 8 bytes")
    return Instruction(Class.STX | _size(size) | Mode.ATOMIC, dst, src, off, int(op))


def atomic_add(dst: int, off: int, src: int, size: int = 8) -> Instruction:
    return atomic(AtomicOp.ADD, dst, off, src, size)


def _make_jump(op: int, cls: int = Class.JMP):
    def f(dst: int, src_or_imm, target: str | int, *, label: str | None = None) -> Instruction:
        ins = _alu(cls, op, dst, src_or_imm, label)
        if isinstance(target, str):
            ins.target = target
        else:
            ins.off = target
        return ins
    f.__doc__ = f"if dst {JumpOp(op).name.lower()} src/imm goto target (a label or offset)"
    return f


jeq, jne, jgt, jge, jlt, jle = (_make_jump(o) for o in (JumpOp.JEQ, JumpOp.JNE, JumpOp.JGT,
                                                        JumpOp.JGE, JumpOp.JLT, JumpOp.JLE))
jsgt, jsge, jslt, jsle, jset = (_make_jump(o) for o in (JumpOp.JSGT, JumpOp.JSGE,
                                                        JumpOp.JSLT, JumpOp.JSLE, JumpOp.JSET))
jeq32, jne32, jgt32, jlt32 = (_make_jump(o, Class.JMP32) for o in (JumpOp.JEQ, JumpOp.JNE,
                                                                   JumpOp.JGT, JumpOp.JLT))


def ja(target: str | int, *, label: str | None = None) -> Instruction:
    ins = Instruction(Class.JMP | JumpOp.JA, label=label)
    if isinstance(target, str):
        ins.target = target
    else:
        ins.off = target
    return ins


def call(helper: str | int, *, label: str | None = None) -> Instruction:
    """Call a helper by name or id."""
    hid = helper if isinstance(helper, int) else helper_id(helper)
    return Instruction(Class.JMP | JumpOp.CALL, imm=hid, label=label)


def call_function(target: str, *, label: str | None = None) -> Instruction:
    """A bpf-to-bpf call to the instruction labelled ``target``."""
    return Instruction(Class.JMP | JumpOp.CALL, src=PSEUDO_CALL, label=label, target=target)


def exit_(*, label: str | None = None) -> Instruction:
    return Instruction(Class.JMP | JumpOp.EXIT, label=label)


def ret(value: int) -> list[Instruction]:
    """``r0 = value; exit``."""
    return [mov64(R0, value), exit_()]


