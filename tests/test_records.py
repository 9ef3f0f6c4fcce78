"""records.decoder: record views to values (pure)."""

from __future__ import annotations

import ctypes
import struct

import pytest

from pybpf.records import decoder


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint32)]


def test_ctypes_records_are_copied_cut_or_zero_filled():
    raw = struct.pack("<II", 7, 9)
    conv = decoder(Pair)
    v = conv(memoryview(raw + b"extra"))
    assert (v.a, v.b) == (7, 9)
    short = conv(memoryview(raw[:4]))
    assert (short.a, short.b) == (7, 0)
    assert decoder(ctypes.c_uint64)(memoryview(bytes(range(8)))).value == 0x0706050403020100


def test_struct_callables_and_bytes():
    view = memoryview(struct.pack("<QH", 5, 6))
    assert decoder(struct.Struct("<Q"))(view) == (5,)
    assert decoder(len)(view) == 10
    assert decoder(None)(view) == bytes(view)
    with pytest.raises(TypeError):
        decoder(42)
