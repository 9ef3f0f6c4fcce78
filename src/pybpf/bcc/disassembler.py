"""bcc's ``bcc.disassembler``: a program's instructions and a table's key/value layout as
text, in bcc's own notation (``   0: (b7) r0 = 1``, ``Layout of BPF map ...``).

The instructions are decoded by :mod:`pybpf.asm`; this module only words them as bcc does
(its notation differs from the kernel verifier's that ``pybpf.asm.format_insn`` writes).
Opcodes bcc's table does not know (JMP32, atomics, sign-extending loads, ...) are written
in the kernel's notation instead of bcc's broken ``unknown`` line.
"""

from __future__ import annotations

import ctypes as ct
from os import linesep

from ..asm.disasm import format_insn
from ..asm.instruction import LD_IMM64, Instruction, decode
from ..asm.opcodes import PSEUDO_CALL, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE

__all__ = ["decode_map", "disassemble_instruction", "disassemble_prog", "disassemble_str",
           "get_table_type_name"]

# ALU operations by the opcode's high nibble: (bcc's operator, immediate written in hex)
_ALU = {0x00: ("+=", False), 0x10: ("-=", False), 0x20: ("*=", False), 0x30: ("/=", False),
        0x40: ("|=", True), 0x50: ("&=", True), 0x60: ("<<=", False), 0x70: (">>=", False),
        0x90: ("%=", False), 0xA0: ("^=", True), 0xB0: ("=", False), 0xC0: ("s>>=", False)}
_JMP = {0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>", 0x70: "s>=",
        0xA0: "<", 0xB0: "<=", 0xC0: "s<", 0xD0: "s<="}
_BITS = {0x00: 32, 0x08: 16, 0x10: 8, 0x18: 64}     # BPF_W, BPF_H, BPF_B, BPF_DW


def _helper(n: int, helpers: dict) -> str | None:
    if not helpers:         # the kernel's helper names, read on the first call met
        from ..asm.builders import helper_names
        helpers.update(helper_names())
    return helpers.get(n)


def _bcc_text(i: int, ins: Instruction, helpers: dict) -> str | None:
    """bcc's words for instruction ``ins`` at slot ``i``; None where bcc has none."""
    op, cls, d, s = ins.op, ins.op & 0x07, ins.dst, ins.src
    reg = op & 0x08
    if cls in (0x04, 0x07):                                 # ALU, ALU64
        high = op & 0xF0
        if high == 0x80 and not reg:                        # neg
            return f"r{d} = ~ (u{32 if cls == 0x04 else 64})r{d}"
        if op == 0xDC:                                      # to big endian
            return f"r{d} endian r{s}"
        if high not in _ALU:
            return None
        sign, hex_imm = _ALU[high]
        if reg:
            return f"r{d} {sign} r{s}"
        return f"r{d} {sign} {ins.imm & 0xFFFFFFFF:#x}" if hex_imm else f"r{d} {sign} {ins.imm}"
    if cls == 0x05:                                         # JMP (64-bit)
        high, to = op & 0xF0, i + ins.off + 1
        if op == 0x05:
            return f"goto {ins.off:+d} <{to}>"
        if op == 0x85:
            if s == PSEUDO_CALL:
                return f"call {ins.imm:+d}"
            name = _helper(ins.imm & 0xFFFFFFFF, helpers)
            return f"call bpf_{name}#{ins.imm}" if name else f"call <unknown helper #{ins.imm}>"
        if op == 0x95:
            return "exit"
        if high not in _JMP:
            return None
        # bcc's table lists 0xdd (jsle against a register) with an immediate operand
        rhs = f"r{s}" if reg and op != 0xDD else str(ins.imm)
        return f"if r{d} {_JMP[high]} {rhs} goto pc{ins.off:+d} <{to}>"
    size, mode = op & 0x18, op & 0xE0
    bits = _BITS[size]
    if cls == 0x00 and op == LD_IMM64:
        if s == PSEUDO_MAP_FD:
            return f"r{d} = <map at fd #{ins.imm}>"
        if s == PSEUDO_MAP_VALUE:
            return f"r{d} = <map value at fd #{ins.imm} +{(ins.imm64 or 0) >> 32}>"
        v = ins.imm64 if ins.imm64 is not None else ins.imm & 0xFFFFFFFF
        return f"r{d} = {v:#x}"
    if cls == 0x00 and mode == 0x20:                        # legacy packet load, absolute
        return f"r0 = *(u{bits}*)skb[{ins.imm}]"
    if cls == 0x00 and mode == 0x40:                        # ... and indirect
        return f"r0 = *(u{bits}*)skb[r{s} {ins.imm:+d}]"
    if mode != 0x60:                                        # BPF_MEM only
        return None
    if cls == 0x01:
        return f"r{d} = *(u{bits}*)(r{s} {ins.off:+d})"
    if cls == 0x02:
        return f"*(u{bits}*)(r{d} {ins.off:+d}) = {ins.imm}"
    if cls == 0x03:
        return f"*(u{bits}*)(r{d} {ins.off:+d}) = r{s}"
    return None


def _line(i: int, ins: Instruction, helpers: dict) -> str:
    text = _bcc_text(i, ins, helpers)
    if text is None:
        text = format_insn(ins, helpers)
    return f"{i:4d}: ({ins.op:02x}) {text}"


def disassemble_instruction(i: int, w0, w1=None) -> tuple[str, int]:
    """bcc's call: (the line of the instruction ``w0`` at slot ``i``, how many slots
    after it belong to it).  ``w0``/``w1`` are 8 bytes each (or ctypes objects of 8
    bytes, as bcc's ``BPFInstr``); a 64-bit load needs ``w1``, its upper half."""
    raw = bytes(w0) + (bytes(w1) if w1 is not None else b"")
    ins = decode(raw[:16] if raw[:1] == bytes([LD_IMM64]) else raw[:8])[0]
    return _line(i, ins, {}), ins.slots - 1


def disassemble_str(bpfstr: bytes) -> list[str]:
    """One line per 8-byte slot of ``bpfstr`` (the upper half of a 64-bit load marked)."""
    out, i, helpers = [], 0, {}
    for ins in decode(bytes(bpfstr)):
        out.append(_line(i, ins, helpers))
        if ins.op == LD_IMM64:
            out.append(f"{i + 1:4d}:      (64-bit upper word)")
        i += ins.slots
    return out


def disassemble_prog(func_name, bpfstr: bytes) -> str:
    """bcc's listing of a function: a heading line, then :func:`disassemble_str`."""
    return linesep.join([f"Disassemble of BPF program {func_name}:",
                         *disassemble_str(bpfstr)])


def get_table_type_name(ttype: int) -> str:
    """``HASH``, ``ARRAY``, ... for a BPF_MAP_TYPE_* number (bcc.table's function)."""
    from .._sys.uapi import MapType
    try:
        return MapType(ttype).name.replace("_DEPRECATED", "")
    except ValueError:
        return f"<unknown type {ttype}>"


# -- table layouts -----------------------------------------------------------------------
# bcc names a ctypes type by the C name its table decoder made it from; on LP64 ctypes
# c_long is c_longlong (and c_ulong c_ulonglong), so bcc writes "long long" for both.
_CNAMES = {ct.c_bool: "_Bool", ct.c_char: "char", ct.c_wchar: "wchar_t",
           ct.c_ubyte: "unsigned char", ct.c_byte: "signed char", ct.c_short: "short",
           ct.c_ushort: "unsigned short", ct.c_int: "int", ct.c_uint: "unsigned int",
           ct.c_long: "long", ct.c_ulong: "unsigned long", ct.c_longlong: "long long",
           ct.c_ulonglong: "unsigned long long", ct.c_float: "float", ct.c_double: "double",
           ct.c_longdouble: "long double", ct.c_int64 * 2: "__int128",
           ct.c_uint64 * 2: "unsigned __int128"}


def _ctype_name(t) -> str:
    if issubclass(t, ct.Structure):
        return "struct"
    if issubclass(t, ct.Union):
        return "union"
    if t in _CNAMES:
        return _CNAMES[t]
    if issubclass(t, ct.Array):
        return f"{_ctype_name(t._type_)}[{t._length_}]"
    return t.__name__


def _size(enabled: bool, offset: int, size: int) -> str:
    return f"[{offset} +{size}] " if enabled else ""


def _members(t) -> list[tuple[str, object]]:
    """(name, ctypes type or Bitfield) in C's order, without pybpf's padding fields."""
    names = getattr(t, "_members_", None)
    if names is None:
        return [(f[0], f[1] if len(f) == 2 else (f[1], f[2])) for f in t._fields_
                if not f[0].startswith("__pad")]
    fields = dict((f[0], f[1]) for f in t._fields_)
    return [(n, fields[n] if n in fields else t.__dict__.get(n)) for n in names]


def _record_lines(t, indent: str, offset: int, sizeinfo: bool) -> list[str]:
    lines = []
    for name, ft in _members(t):
        if isinstance(ft, tuple):                           # a ctypes bitfield
            ft, nbits = ft
            lines.append(f"{indent}{_ctype_name(ft)} {name}:{nbits};")
            continue
        if isinstance(ft, property):                        # pybpf's Bitfield property
            store, shift, nbits, signed = ft.spec
            where = offset + getattr(t, store).offset
            info = f"[{where},{shift} +{nbits} bit] " if sizeinfo else ""
            lines.append(f"{indent}{info}{'int' if signed else 'unsigned int'} "
                         f"{name}:{nbits};")
            continue
        at = offset + getattr(t, name).offset
        info = _size(sizeinfo, at, ct.sizeof(ft))
        if issubclass(ft, (ct.Structure, ct.Union)):
            lines.append(f"{indent}{info}{_ctype_name(ft)} {{")
            lines += _record_lines(ft, indent + "  ", at, sizeinfo)
            lines.append(f"{indent}}} {name};")
        else:
            lines.append(f"{indent}{info}{_ctype_name(ft)} {name};")
    return lines


def _type_lines(t, name: str, sizeinfo: bool) -> list[str]:
    if issubclass(t, (ct.Structure, ct.Union)):
        return [f"  {_ctype_name(t)} {{", *_record_lines(t, "    ", 0, sizeinfo),
                f"  }} {name};"]
    return [f"  {_ctype_name(t)} {name};"]


def decode_map(map_name, map_obj, map_type: int, sizeinfo: bool = False) -> str:
    """bcc's layout of a table: a heading (type, descriptor, id), then its key and value
    types as C declarations (``sizeinfo``: each field's ``[offset +size]``).  The ID is
    the kernel's id of the map (bcc writes its own index of the table)."""
    head = (f"Layout of BPF map {map_name} (type {get_table_type_name(map_type)}, "
            f"FD {map_obj.map_fd}, ID {map_obj.map.id}):")
    return linesep.join([head, *_type_lines(map_obj.Key, "key", sizeinfo),
                         *_type_lines(map_obj.Leaf, "value", sizeinfo)])
