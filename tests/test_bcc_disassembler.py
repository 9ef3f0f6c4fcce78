"""bcc.disassembler's text (root-free): instruction lines as bcc 0.26 writes them (the
expected strings are bcc's output for these instructions, from its test_disassembler.py)
and table layouts from ctypes types, bcc's and pybpf's (bitfields as properties)."""

from __future__ import annotations

import ctypes as ct
import struct

from hypothesis import given, settings, strategies as st

from pybpf.asm.instruction import AsmError
from pybpf.bcc import disassembler as dis
from pybpf.ctypes_record import Bitfield, init_by_members


def insn(op, dst=0, src=0, off=0, imm=0) -> bytes:
    return struct.pack("<BBhi", op, dst | src << 4, off, imm)


def ctypes_word(raw: bytes):
    return (ct.c_uint8 * 8).from_buffer_copy(raw)


def line(raw: bytes) -> str:
    return dis.disassemble_str(raw)[0]


def test_instruction_lines_match_bccs():
    cases = [
        (insn(0x04, 3, 0, 0, -5), "   0: (04) r3 += -5"),
        (insn(0x0f, 1, 2), "   0: (0f) r1 += r2"),
        (insn(0x05, 0, 0, -3), "   0: (05) goto -3 <-2>"),
        (insn(0x15, 4, 0, 7, 42), "   0: (15) if r4 == 42 goto pc+7 <8>"),
        (insn(0x2d, 4, 9, -2), "   0: (2d) if r4 > r9 goto pc-2 <-1>"),
        (insn(0xdd, 4, 9, 1, -1), "   0: (dd) if r4 s<= -1 goto pc+1 <2>"),  # bcc's quirk
        (insn(0x20, 0, 0, 0, 12), "   0: (20) r0 = *(u32*)skb[12]"),
        (insn(0x50, 0, 6, 0, -4), "   0: (50) r0 = *(u8*)skb[r6 -4]"),
        (insn(0x44, 2, 0, 0, -1), "   0: (44) r2 |= 0xffffffff"),
        (insn(0x57, 2, 0, 0, 255), "   0: (57) r2 &= 0xff"),
        (insn(0x61, 1, 6, 76), "   0: (61) r1 = *(u32*)(r6 +76)"),
        (insn(0x6a, 10, 0, -8, 3), "   0: (6a) *(u16*)(r10 -8) = 3"),
        (insn(0x7b, 10, 1, -16), "   0: (7b) *(u64*)(r10 -16) = r1"),
        (insn(0x84, 5), "   0: (84) r5 = ~ (u32)r5"),
        (insn(0x87, 5), "   0: (87) r5 = ~ (u64)r5"),
        (insn(0xc7, 1, 0, 0, 3), "   0: (c7) r1 s>>= 3"),
        (insn(0xdc, 1, 0, 0, 16), "   0: (dc) r1 endian r0"),
        (insn(0xbf, 6, 1), "   0: (bf) r6 = r1"),
        (insn(0x95), "   0: (95) exit"),
        (insn(0x85, 0, 0, 0, 1), "   0: (85) call bpf_map_lookup_elem#1"),
        (insn(0x85, 0, 1, 0, 4), "   0: (85) call +4"),
    ]
    for raw, want in cases:
        assert line(raw) == want


def test_wide_load_takes_two_lines():
    raw = insn(0x18, 1, 1, 0, 7) + insn(0, 0, 0, 0, 0) + \
        insn(0x18, 2, 0, 0, 0x10) + insn(0, 0, 0, 0, 1) + insn(0x95)
    assert dis.disassemble_str(raw) == ["   0: (18) r1 = <map at fd #7>",
                                        "   1:      (64-bit upper word)",
                                        "   2: (18) r2 = 0x100000010",
                                        "   3:      (64-bit upper word)",
                                        "   4: (95) exit"]
    assert dis.disassemble_instruction(0, raw[:8], raw[8:16]) == (
        "   0: (18) r1 = <map at fd #7>", 1)
    assert dis.disassemble_instruction(4, ctypes_word(raw[32:40])) == ("   4: (95) exit", 0)
    prog = dis.disassemble_prog(b"f", insn(0xb7, 0, 0, 0, 1) + insn(0x95))
    assert prog.splitlines() == ["Disassemble of BPF program b'f':",
                                 "   0: (b7) r0 = 1", "   1: (95) exit"]


def test_opcodes_bcc_does_not_know_use_the_kernels_words():
    assert line(insn(0x16, 1, 0, 2, 5)) == "   0: (16) if w1 == 0x5 goto pc+2"     # JMP32
    assert line(insn(0xdb, 1, 2, 0, 0)) == "   0: (db) lock *(u64 *)(r1 +0) += r2"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_give_lines_or_one_clear_error(raw):
    try:
        out = dis.disassemble_str(raw)
    except AsmError:
        assert len(raw) % 8 or raw[-8] == 0x18
        return
    assert len(out) == len(raw) // 8


class _Inner(ct.Structure):
    _pack_ = 1
    _fields_ = [("c", ct.c_int, 4), ("d", ct.c_int, 8)]


class _Key(ct.Structure):
    _pack_ = 1
    _fields_ = [("a", ct.c_int), ("b", ct.c_short), ("e", _Inner)]


class _FakeMap:
    id = 17


class _Table:
    map_fd, map = 3, _FakeMap()

    def __init__(self, key, leaf):
        self.Key, self.Leaf = key, leaf


# bcc's expected layout in its test_disassembler.py (the same struct and table)
BCC_LAYOUT = """  struct {
    int a;
    short b;
    struct {
      int c:4;
      int d:8;
    } e;
  } key;
  unsigned long long value;"""


def test_table_layout_of_bccs_ctypes():
    text = dis.decode_map(b"test_map", _Table(_Key, ct.c_ulonglong), 1)
    head, _, rest = text.partition("\n")
    assert head == "Layout of BPF map b'test_map' (type HASH, FD 3, ID 17):"
    assert rest == BCC_LAYOUT


def test_table_layout_of_pybpfs_bitfield_properties():
    # what pybpf.ctypes_btf makes of the packed struct: bitfields over raw bytes
    inner = type("anon_8", (ct.Structure,), {"_pack_": 1, "_fields_": [
        ("__bits0", ct.c_uint8 * 2), ("__pad_end", ct.c_uint8 * 2)]})
    inner.c = Bitfield("__bits0", 0, 4, True)
    inner.d = Bitfield("__bits0", 4, 8, True)
    inner._members_, inner.__init__ = ["c", "d"], init_by_members
    key = type("key_t", (ct.Structure,), {"_pack_": 1, "_fields_": [
        ("a", ct.c_int), ("b", ct.c_short), ("e", inner)]})
    text = dis.decode_map("test_map", _Table(key, ct.c_uint64), 1)
    assert text.partition("\n")[2] == BCC_LAYOUT
    sized = dis.decode_map("m", _Table(key, ct.c_char * 16), 5, sizeinfo=True)
    assert sized.splitlines()[1:] == [
        "  struct {", "    [0 +4] int a;", "    [4 +2] short b;", "    [6 +4] struct {",
        "      [6,0 +4 bit] int c:4;", "      [6,4 +8 bit] int d:8;", "    } e;",
        "  } key;", "  char[16] value;"]
    assert "(type PERCPU_HASH," in sized
    assert dis.get_table_type_name(999) == "<unknown type 999>"
