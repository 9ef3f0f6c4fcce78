"""typedvalue: encode/decode round trips and refusals, on hand-made BTF (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from pybpf.btf import types as T
from pybpf.btf.spec import Spec
from pybpf.typedvalue import Codec, FitError


def _spec():
    s = Spec()
    ids = {}
    ids["u32"] = s.add(T.Int("unsigned int", 4, 0, 32))
    ids["s16"] = s.add(T.Int("short", 2, T.SIGNED, 16))
    ids["bool"] = s.add(T.Int("_Bool", 1, T.BOOL, 8))
    ids["char"] = s.add(T.Int("char", 1, T.SIGNED, 8))
    ids["f64"] = s.add(T.Float("double", 8))
    ids["name"] = s.add(T.Array(ids["char"], ids["u32"], 8))
    ids["arr"] = s.add(T.Array(ids["s16"], ids["u32"], 3))
    ids["rec"] = s.add(T.Struct("rec", 16, [T.Member("a", ids["u32"], 0),
                                            T.Member("n", ids["name"], 32),
                                            T.Member("lo", ids["u32"], 96, 3),
                                            T.Member("hi", ids["u32"], 99, 5)]))
    return s, ids


S, IDS = _spec()
C = Codec(S)


@given(st.integers(min_value=-(1 << 70), max_value=1 << 70))
def test_ints_round_trip_or_refuse(v):
    for name, lo, hi in (("u32", 0, (1 << 32) - 1), ("s16", -(1 << 15), (1 << 15) - 1)):
        if lo <= v <= hi:
            assert C.decode(IDS[name], C.encode(IDS[name], v, "x")) == v
        else:
            with pytest.raises(OverflowError):
                C.encode(IDS[name], v, "x")


@given(st.text(max_size=12))
def test_char_arrays(text):
    raw = text.encode()
    if len(raw) < 8:
        assert C.decode(IDS["name"], C.encode(IDS["name"], text, "x")) == text.split("\0")[0]
    else:
        with pytest.raises(FitError):
            C.encode(IDS["name"], text, "x")


def test_types_are_checked():
    with pytest.raises(TypeError):
        C.encode(IDS["u32"], 1.5, "x")
    with pytest.raises(TypeError):
        C.encode(IDS["u32"], "1", "x")
    with pytest.raises(TypeError):
        C.encode(IDS["bool"], 2, "x")
    assert C.decode(IDS["bool"], C.encode(IDS["bool"], True, "x")) is True
    assert C.decode(IDS["f64"], C.encode(IDS["f64"], 3, "x")) == 3.0
    with pytest.raises(TypeError):
        C.encode(IDS["f64"], "3", "x")
    assert C.decode(IDS["arr"], C.encode(IDS["arr"], [1, -2], "x")) == (1, -2, 0)
    with pytest.raises(FitError):
        C.encode(IDS["arr"], [1, 2, 3, 4], "x")
    with pytest.raises(TypeError):
        C.encode(IDS["arr"], "abc", "x")


@given(st.integers(0, 7), st.integers(0, 31), st.integers(0, 1 << 32 - 1))
def test_struct_with_bitfields(lo, hi, a):
    raw = C.encode(IDS["rec"], {"a": a, "n": "ab", "lo": lo, "hi": hi}, "r")
    assert len(raw) == 16 and raw[12] == lo | hi << 3
    r = C.decode(IDS["rec"], raw)
    assert (r.a, r.n, r.lo, r.hi) == (a, b"ab", lo, hi)
    with pytest.raises(OverflowError):
        C.encode(IDS["rec"], {"lo": 8}, "r")


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 9), st.sampled_from(
    ["u32", "s16", "bool", "name", "arr"])), max_size=6), st.integers(1, 40))
def test_converter_survives_any_member_layout(members, size):
    """Object BTF is untrusted: odd layouts give a type of the declared size, never a crash."""
    import ctypes
    from pybpf.ctypes_btf import Converter
    s, ids = _spec()
    tid = s.add(T.Struct("odd", size, [T.Member(f"m{i}", ids[k], off, bits)
                                       for i, (off, bits, k) in enumerate(members)]))
    ct = Converter(s)(tid)
    assert ctypes.sizeof(ct) == size
    Codec(s).decode(tid, bytes(size))
