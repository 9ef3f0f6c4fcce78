"""eBPF opcode fields (include/uapi/linux/bpf.h, bpf_common.h): class, size, mode, source
and the ALU/jump operation, packed into one byte as the kernel does."""

from __future__ import annotations

from enum import IntEnum


class Class(IntEnum):
    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Size(IntEnum):
    W = 0x00     # 4 bytes
    H = 0x08     # 2
    B = 0x10     # 1
    DW = 0x18    # 8


SIZE_BYTES = {Size.W: 4, Size.H: 2, Size.B: 1, Size.DW: 8}
BYTES_SIZE = {v: k for k, v in SIZE_BYTES.items()}


class Mode(IntEnum):
    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class Source(IntEnum):
    K = 0x00     # the immediate
    X = 0x08     # the source register


class ALUOp(IntEnum):
    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JumpOp(IntEnum):
    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0


class AtomicOp(IntEnum):
    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH = 0x01
    XCHG = 0xE0 | 0x01
    CMPXCHG = 0xF0 | 0x01


# src_reg values of special instructions
PSEUDO_MAP_FD = 1          # ld_imm64: imm is a map fd
PSEUDO_MAP_VALUE = 2       # ld_imm64: imm is a map fd, next imm an offset into its value
PSEUDO_BTF_ID = 3
PSEUDO_FUNC = 4            # ld_imm64: address of a BPF function
PSEUDO_CALL = 1            # call: imm is a relative bpf-to-bpf call
PSEUDO_KFUNC_CALL = 2


def op_class(op: int) -> int:
    return op & 0x07
