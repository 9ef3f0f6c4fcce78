"""pybpf.asm: encoding, labels, decoding and disassembly (pure), and hand-assembled
programs on the kernel: a socket filter run with test_run, a map update, a rejection."""

from __future__ import annotations

import ctypes
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf import asm, errors
from pybpf.asm import (FP, R0, R1, R2, Instructions, add64, atomic_add, call, exit_, jeq,
                       ld_imm64, ld_map_fd, load, mov64, reg, store, store_imm)
from pybpf.asm.opcodes import Class


def test_encoding_matches_the_kernel_layout():
    assert mov64(R0, 7).encode() == struct.pack("<BBhi", 0xB7, 0x00, 0, 7)
    assert mov64(R1, reg(R2)).encode() == struct.pack("<BBhi", 0xBF, 0x21, 0, 0)
    assert load(R0, R1, 4, size=4).encode() == struct.pack("<BBhi", 0x61, 0x10, 4, 0)
    assert store_imm(FP, -8, 3, size=8).encode() == struct.pack("<BBhi", 0x7A, 0x0A, -8, 3)
    assert atomic_add(R1, 0, R2).encode() == struct.pack("<BBhi", 0xDB, 0x21, 0, 0)
    assert exit_().encode() == struct.pack("<BBhi", 0x95, 0, 0, 0)
    wide = ld_imm64(R1, 0x1122334455667788).encode()
    assert wide == struct.pack("<BBhiBBhi", 0x18, 1, 0, 0x55667788, 0, 0, 0, 0x11223344)


def test_labels_resolve_forward_and_backward():
    prog = Instructions([
        mov64(R0, 0),                       # 0
        jeq(R1, 0, "out"),                  # 1 -> 4: off 2
        add64(R0, 1, label="loop"),         # 2
        ld_imm64(R2, 5),                    # 3-4 (two slots)
        jeq(R0, 3, "loop"),                 # 5 -> 2: off -4
        exit_(label="out"),                 # 6
    ])
    ins = asm.decode(prog.assemble())
    assert ins[1].off == 4 and ins[4].off == -4        # slots, not list indices
    with pytest.raises(asm.AsmError, match="nowhere"):
        Instructions([jeq(R1, 0, "nowhere"), exit_()]).assemble()
    with pytest.raises(asm.AsmError, match="twice"):
        Instructions([exit_(label="a"), exit_(label="a")]).assemble()


def test_round_trip_every_class():
    prog = Instructions([mov64(R1, 1), asm.mov32(R2, 2), asm.sub64(R1, reg(R2)),
                         asm.neg64(R1), load(R2, R1, -2, size=2), store(FP, -4, R1, size=4),
                         store_imm(FP, -1, 9, size=1), ld_map_fd(R1, 5), asm.ja(1),
                         asm.jne32(R1, 3, 0), call(1), exit_()]).assemble()
    assert Instructions(asm.decode(prog)).assemble() == prog
    lines = asm.disassemble(prog, {1: "map_lookup_elem"})
    assert lines[0] == "0: r1 = 1" and lines[1] == "1: w2 = 2"
    assert "2: r1 -= r2" in lines and "4: r2 = *(u16 *)(r1 -2)" in lines
    assert "5: *(u32 *)(r10 -4) = r1" in lines and "7: r1 = map[fd:5]" in lines
    assert "9: goto pc+1" in lines and "10: if w1 != 0x3 goto pc+0" in lines
    assert lines[-2:] == ["11: call bpf_map_lookup_elem#1", "12: exit"]


def test_bad_input_is_a_typed_error():
    with pytest.raises(asm.AsmError):
        asm.decode(b"\x95" * 7)
    with pytest.raises(asm.AsmError, match="second half"):
        asm.decode(ld_imm64(R1, 1).encode()[:8])
    with pytest.raises(asm.AsmError):
        load(R0, R1, size=3)
    with pytest.raises(asm.AsmError):
        mov64(R0, 1 << 40).encode()
    with pytest.raises(asm.AsmError, match="unknown helper"):
        call("pt_no_such_helper")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_decoding_random_bytes_raises_only_pybpf_errors(raw):
    try:
        asm.disassemble(raw)
    except errors.PybpfError:
        pass


def test_decodes_clang_output_like_llvm_objdump():
    import pybpf
    src = '__attribute__((section("socket"))) int f(int *p) { return p[1] + 3; }'
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(
        src + '\nchar LICENSE[] __attribute__((section("license"))) = "GPL";', cache=None))
    p = next(iter(spec.programs.values()))
    text = asm.disassemble(p.instructions)
    assert text[-1].endswith("exit") and any("*(u32 *)(r1 +4)" in t for t in text)


# ---- kernel ---------------------------------------------------------------------------

@pytest.mark.kernel
def test_hand_assembled_socket_filter_runs():
    from pybpf._sys.uapi import ProgType
    from pybpf.programs import Program, ProgramSpec
    # return the packet length (skb->len, offset 0 of __sk_buff) times 2; test_run takes
    # the 14-byte Ethernet header off the 60 bytes it is given
    prog = Instructions([load(R0, R1, 0, size=4), add64(R0, reg(R0)), exit_()])
    with Program.load(ProgramSpec(name="pt_asm_sock", type=ProgType.SOCKET_FILTER,
                                  instructions=prog.assemble(), license="GPL")) as p:
        r = p.test_run(b"\x00" * 60)
        assert r.retval == 2 * (60 - 14)
        from pybpf import info
        xl = info.prog_xlated(p.fileno())
        assert asm.disassemble(xl)[-1].endswith("exit")


@pytest.mark.kernel
def test_hand_assembled_map_update():
    from pybpf._sys.uapi import MapType, ProgType
    from pybpf.maps import Map, MapSpec
    from pybpf.programs import Program, ProgramSpec
    with Map.create(MapSpec("pt_asm_map", MapType.ARRAY, 4, 8, 1)) as m:
        prog = Instructions([
            store_imm(FP, -4, 0, size=4),                 # key = 0 on the stack
            ld_map_fd(R1, m.fileno()),
            mov64(R2, reg(FP)), add64(R2, -4),
            call("map_lookup_elem"),
            jeq(R0, 0, "out"),
            mov64(R1, 5), atomic_add(R0, 0, R1),          # *value += 5
            mov64(R0, 0, label="out"), exit_()])
        with Program.load(ProgramSpec(name="pt_asm_upd", type=ProgType.SOCKET_FILTER,
                                      instructions=prog.assemble(), license="GPL")) as p:
            p.test_run(b"\x00" * 20)
            p.test_run(b"\x00" * 20)
        assert int.from_bytes(m[0], "little") == 10


@pytest.mark.kernel
def test_verifier_rejects_an_unchecked_map_value():
    from pybpf._sys.uapi import MapType, ProgType
    from pybpf.maps import Map, MapSpec
    from pybpf.programs import Program, ProgramSpec
    # a hash map: for arrays with a constant in-range key the verifier knows it is not NULL
    with Map.create(MapSpec("pt_asm_bad", MapType.HASH, 4, 8, 1)) as m:
        prog = Instructions([store_imm(FP, -4, 0, size=4), ld_map_fd(R1, m.fileno()),
                             mov64(R2, reg(FP)), add64(R2, -4), call("map_lookup_elem"),
                             load(R0, R0, 0), exit_()])       # no NULL check
        with pytest.raises(errors.VerifierError) as ei:
            Program.load(ProgramSpec(name="pt_asm_rej", type=ProgType.SOCKET_FILTER,
                                     instructions=prog.assemble(), license="GPL"))
    assert "map_value_or_null" in ei.value.log
    assert Class.LDX == 1
