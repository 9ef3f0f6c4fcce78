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


# -- _record.named_tuple: namedtuple without importing collections ------------------------------

def test_named_tuple_behaves_as_a_namedtuple():
    from collections import namedtuple
    from pybpf._record import named_tuple
    Ours, Theirs = named_tuple("P", "x y z"), namedtuple("P", "x y z")
    a, b = Ours(1, 2, z=3), Theirs(1, 2, z=3)
    assert a == b == (1, 2, 3) and repr(a) == repr(b) and hash(a) == hash(b)
    assert a.x == 1 and a.z == 3 and a._fields == ("x", "y", "z") == Theirs._fields
    assert a._asdict() == b._asdict() and a._replace(y=5) == (1, 5, 3)
    assert type(a._replace(y=5)) is Ours and Ours._make([4, 5, 6]).y == 5
    import pickle
    P = named_tuple("P", "x y z")
    globals()["P"] = P                 # pickle finds the class by name
    P.__module__ = __name__
    assert pickle.loads(pickle.dumps(P(1, 2, 3))) == P(1, 2, 3)
    for bad in (lambda: Ours(1, 2), lambda: Ours(1, 2, 3, 4), lambda: Ours(1, 2, 3, x=1),
                lambda: Ours(1, 2, w=3), lambda: Ours._make([1])):
        with pytest.raises(TypeError):
            bad()
    with pytest.raises(ValueError):
        a._replace(w=1)
    with pytest.raises(AttributeError):
        a.x = 5                        # immutable, no instance dict


def test_info_records_are_named_tuples():
    from pybpf.info import MapInfo
    m = MapInfo(1, 2, "m", 4, 8, 16, 0, 0)
    assert m.type_name == "array" and m.max_entries == 16 and m._replace(id=9).id == 9
    assert MapInfo(id=1, type=2, name="m", key_size=4, value_size=8, max_entries=16, flags=0,
                   btf_id=0) == m
