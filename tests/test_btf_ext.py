"""BTF.ext parsing (func_info, line_info, CO-RE relocations) on hand-built sections: the
records as clang writes them, records longer than today's (a newer compiler's), and
arbitrary bytes, which give a BTFError or a result, never another exception."""

from __future__ import annotations

import struct

from hypothesis import given, settings, strategies as st
import pytest

from pybpf.btf.ext import CoreReloKind, parse_ext
from pybpf.errors import BTFError

STRINGS = {0: "", 1: "tracepoint/x", 14: "prog.bpf.c", 25: "return 0;", 35: "0:1"}


class _Strings:
    def string_at(self, off: int) -> str:
        return STRINGS[off]


def _block(rec_size: int, recs: list[bytes]) -> bytes:
    pad = b"\0" * (rec_size - len(recs[0]))
    return struct.pack("<III", rec_size, 1, len(recs)) + b"".join(r + pad for r in recs)


def _ext(extra: int = 0) -> bytes:
    fi = _block(8 + extra, [struct.pack("<II", 0, 7), struct.pack("<II", 16, 8)])
    li = _block(16 + extra, [struct.pack("<IIII", i * 8, 14, 25, (40 + i) << 10 | 3)
                             for i in range(3)])
    co = _block(16 + extra, [struct.pack("<IIII", 8, 5, 35, CoreReloKind.FIELD_BYTE_OFFSET)])
    hdr = struct.pack("<HBBIIIIIII", 0xEB9F, 1, 0, 32, 0, len(fi), len(fi), len(li),
                      len(fi) + len(li), len(co))
    return hdr + fi + li + co


@pytest.mark.parametrize("extra", [0, 4])
def test_records_parse_whatever_their_size(extra):
    ext = parse_ext(_ext(extra), _Strings())
    assert [(f.insn_off, f.type_id) for f in ext.func_info["tracepoint/x"]] == [(0, 7), (16, 8)]
    lines = ext.line_info["tracepoint/x"]
    assert [(li.insn_off, li.file_name, li.line_text, li.line, li.col) for li in lines] == \
        [(i * 8, "prog.bpf.c", "return 0;", 40 + i, 3) for i in range(3)]
    (r,) = ext.core_relos["tracepoint/x"]
    assert (r.insn_off, r.type_id, r.access, r.kind) == (8, 5, "0:1",
                                                         CoreReloKind.FIELD_BYTE_OFFSET)
    assert ext.line_info_rec_size == 16 + extra


def test_an_unknown_relocation_kind_is_named():
    raw = bytearray(_ext())
    raw[-4:] = struct.pack("<I", 99)
    with pytest.raises(BTFError, match="unknown CO-RE relocation kind 99"):
        parse_ext(bytes(raw), _Strings())


class _AnyStrings:
    def string_at(self, off: int) -> str:
        return str(off)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 150), st.binary(max_size=8))
def test_arbitrary_bytes_give_a_btf_error_or_a_result(noise, at, patch):
    raw = bytearray(_ext())
    raw[at:at + len(patch)] = patch
    for data in (bytes(raw), noise):
        try:
            parse_ext(data, _AnyStrings())
        except BTFError:
            pass
