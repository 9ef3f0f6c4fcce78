"""Hand-made BTF: one type of every kind built with the model, marshalled, parsed back
equal; lookups; malformed blobs rejected; and the kernel takes the blob (BPF_BTF_LOAD)."""

from __future__ import annotations

import struct

import pytest

from pybpf import errors
from pybpf.btf import Kind, Spec
from pybpf.btf import types as T


def every_kind() -> Spec:
    s = Spec()
    i32 = s.add(T.Int("int", 4, encoding=1, bits=32))                   # 1
    ch = s.add(T.Int("char", 1, encoding=1, bits=8))                    # 2
    ptr = s.add(T.Ptr(i32))                                             # 3
    arr = s.add(T.Array(ch, i32, 16))                                   # 4
    st = s.add(T.Struct("pt_s", 24, [T.Member("a", i32, 0), T.Member("p", ptr, 64),
                                     T.Member("bits", i32, 128, 3)]))   # 5
    s.add(T.Union("pt_u", 16, [T.Member("x", i32, 0), T.Member("c", arr, 0)]))   # 6
    s.add(T.Enum("pt_e", 4, False, [T.EnumValue("A", 0), T.EnumValue("B", 7)]))  # 7
    s.add(T.Enum64("pt_e64", 8, True, [T.EnumValue("BIG", -(1 << 40))]))        # 8
    s.add(T.Fwd("pt_fwd", False))                                       # 9
    td = s.add(T.Typedef("pt_td", st))                                  # 10
    s.add(T.Volatile(td))                                               # 11
    c = s.add(T.Const(i32))                                             # 12
    s.add(T.Restrict(ptr))                                              # 13
    proto = s.add(T.FuncProto(i32, [T.Param("x", c)]))                  # 14
    fn = s.add(T.Func("pt_func", proto, 1))                             # 15
    var = s.add(T.Var("pt_var", i32, 1))                                # 16
    s.add(T.Datasec(".data", 4, [T.VarSecinfo(var, 0, 4)]))             # 17
    s.add(T.Float("double", 8))                                         # 18
    s.add(T.DeclTag("pt_tag", fn, -1))                                  # 19
    s.add(T.TypeTag("user", ptr))                                       # 20
    return s


def test_every_kind_round_trips():
    s = every_kind()
    blob = s.to_bytes()
    back = Spec.parse(blob)
    assert len(back) == len(s) == 21
    for i in range(1, len(s)):
        assert back[i] == s[i], i
    assert {back[i].kind for i in range(1, 21)} == set(Kind) - {Kind.UNKN}
    assert Spec.parse(back.to_bytes()).to_bytes() == back.to_bytes()


def test_lookups_and_sizes():
    s = Spec.parse(every_kind().to_bytes())
    assert s.find("pt_s") == [5] and s.find_one("pt_td", Kind.TYPEDEF) == 10
    assert s.find("pt_s", Kind.UNION) == []
    assert s.resolve(11) == 5 and s.sizeof(10) == 24 and s.sizeof(4) == 16
    with pytest.raises(errors.BTFError):
        s.find_one("pt_missing")


@pytest.mark.parametrize("mangle", ["magic", "short", "types_len", "str_off"])
def test_malformed_blobs_are_btf_errors(mangle):
    blob = bytearray(every_kind().to_bytes())
    if mangle == "magic":
        blob[0:2] = b"\x00\x00"
    elif mangle == "short":
        blob = blob[:10]
    elif mangle == "types_len":
        struct.pack_into("<I", blob, 12, 7)                 # type section cut mid-type
    else:
        struct.pack_into("<I", blob, 24, 1 << 20)           # first name offset out of range
    with pytest.raises(errors.BTFError):
        s = Spec.parse(bytes(blob))
        for i in range(1, len(s)):
            s[i]


@pytest.mark.kernel
def test_kernel_accepts_the_blob_and_rejects_a_broken_one():
    from pybpf.btf.handle import load_btf
    s = Spec()
    i32 = s.add(T.Int("int", 4, encoding=1, bits=32))
    s.add(T.Struct("pt_ok", 4, [T.Member("a", i32, 0)]))
    with load_btf(s.to_bytes()) as fd:
        assert fd.fileno() >= 0
    bad = Spec()
    bad.add(T.Struct("pt_bad", 4, [T.Member("a", 99, 0)]))   # member of a missing type
    with pytest.raises(errors.BTFError) as ei:
        load_btf(bad.to_bytes())
    assert "99" in str(ei.value) or "Invalid" in str(ei.value) or ei.value.args


@pytest.mark.kernel
def test_vmlinux_and_a_module():
    import os
    from pybpf.btf.kernel import load_module, load_vmlinux
    v = load_vmlinux()
    t = v[v.find_one("task_struct", Kind.STRUCT)]
    assert t.size > 1000 and any(m.name == "pid" for m in t.members)
    mods = [m for m in os.listdir("/sys/kernel/btf") if m != "vmlinux"]
    if mods:
        ms = load_module(mods[0])
        assert len(ms) > len(v)          # split BTF: ids continue after vmlinux


def test_find_answers_stay_right_when_remembered():
    """find() remembers the parsed types' ids by name (CO-RE asks for the same kernel
    names thousands of times): repeated answers, a caller's edits of a returned list,
    types added later and split BTF on top all stay right."""
    s = Spec.parse(every_kind().to_bytes())
    first = s.find("pt_s")
    first.append(99)                                  # the caller's list, not the memory
    assert s.find("pt_s") == [5] and s.find("pt_s", Kind.STRUCT) == [5]
    late = s.add(T.Struct("pt_s", 4, []))
    assert s.find("pt_s") == [5, late] and s.find("nothing_here") == []
    split = Spec.parse(Spec(base=s).to_bytes(), base=s)
    assert split.find("pt_s") == [5, late] and split.find("pt_e") == [7]
