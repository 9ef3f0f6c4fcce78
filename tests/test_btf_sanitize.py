"""Rewriting an object's BTF for kernels that lack newer kinds (libbpf's BTF sanitising):
each rewrite on its own (root-free), a fuzz test over blobs the parser accepts, the probes,
and on this kernel every tool's object and a C object using every newer kind, loaded with
the rewrites a 5.10 kernel needs forced on."""

from __future__ import annotations

import os
import struct
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pybpf
from pybpf import errors
from pybpf.btf import Kind, Spec
from pybpf.btf import types as T
from pybpf.btf.spec import _HDR, _index
from pybpf.info import btf_info
from pybpf.object.btfprobe import ALL, NONE, BtfKinds
from pybpf.object.btfsanitize import downgrade, kernel_btf_bytes

# what Debian 11's 5.10 takes: FUNCs, global ones, DATASECs; nothing newer
KINDS_5_10 = NONE._replace(func=True, func_global=True, datasec=True)
_NEWER = {Kind.FLOAT, Kind.DECL_TAG, Kind.TYPE_TAG, Kind.ENUM64}


def _blob(*types) -> bytes:
    s = Spec()
    for t in types:
        s.add(t)
    return s.to_bytes()


def _records(raw: bytes) -> list[int]:
    """Byte size of each type record of ``raw``, by id (from 1)."""
    _, _, _, hlen, toff, tlen, _, _ = _HDR.unpack_from(raw)
    offs, _ = _index(raw, hlen + toff, hlen + toff + tlen)
    ends = list(offs[1:]) + [hlen + toff + tlen]
    return [e - o for o, e in zip(offs, ends)]


def _down(kinds, *types):
    """(original blob, rewritten blob, the rewritten blob parsed)."""
    raw = _blob(*types)
    new = downgrade(raw, kinds)
    spec = Spec.parse(new)
    spec.check()
    return raw, new, spec


I32 = T.Int("int", 4, T.SIGNED, 32)


# -- each rewrite, root-free --------------------------------------------------------------

def test_nothing_to_do_returns_the_same_bytes():
    raw = _blob(I32, T.Float("float", 4), T.Enum64("e", 8, False, [T.EnumValue("v", 1)]))
    assert downgrade(raw, ALL) is raw
    # kinds the kernel lacks, but none of them in the blob: unchanged too
    plain = _blob(I32, T.Enum("e", 4, False, [T.EnumValue("a", 1)]))
    assert downgrade(plain, NONE) is plain


def test_signed_enum_loses_its_flag_and_keeps_its_bits():
    raw, new, s = _down(NONE._replace(enum64=False), I32,
                        T.Enum("sign", 4, True, [T.EnumValue("NEG", -1), T.EnumValue("ONE", 1)]))
    e = s[2]
    assert e.kind == Kind.ENUM and not e.signed and e.size == 4
    assert [(v.name, v.value) for v in e.values] == [("NEG", 0xFFFFFFFF), ("ONE", 1)]
    assert _records(new) == _records(raw)
    # the info word's kind_flag bit (31) is clear on the wire
    assert struct.unpack_from("<I", new, 24 + 16 + 4)[0] >> 31 == 0


def test_enum64_becomes_a_union_of_one_byte_placeholders():
    big = T.Enum64("big", 8, False, [T.EnumValue("LO", 1), T.EnumValue("HI", 1 << 40)])
    other = T.Enum64("other", 8, True, [T.EnumValue("M", -5)])
    raw, new, s = _down(NONE, I32, big, other)
    assert len(s) == 5                              # one placeholder, added at the end
    ph = s[4]
    assert (ph.kind, ph.name, ph.size, ph.bits, ph.encoding) == \
        (Kind.INT, "enum64_placeholder", 1, 8, 0)
    for tid, names in ((2, ["LO", "HI"]), (3, ["M"])):
        u = s[tid]
        assert u.kind == Kind.UNION and u.size == 8
        assert [(m.name, m.type, m.offset_bits) for m in u.members] == \
            [(n, 4, 0) for n in names]
    assert _records(new) == _records(raw) + [16]
    assert s.sizeof(2) == 8


def test_float_becomes_an_empty_struct_of_its_size():
    raw, new, s = _down(NONE, T.Float("double", 8), T.Float("float", 4))
    assert [(s[i].kind, s[i].name, s[i].size, s[i].members) for i in (1, 2)] == \
        [(Kind.STRUCT, "", 8, []), (Kind.STRUCT, "", 4, [])]
    assert _records(new) == _records(raw)


def test_decl_tag_becomes_a_nameless_byte():
    raw, new, s = _down(NONE._replace(datasec=True), I32, T.Var("x", 1, 1),
                        T.DeclTag("tag", 2, -1))
    t = s[3]
    assert (t.kind, t.name, t.size, t.bits, t.encoding, t.offset) == (Kind.INT, "", 1, 8, 0, 0)
    assert s[2].kind == Kind.VAR                    # datasec kept: VARs stay
    assert _records(new) == _records(raw)


def test_type_tag_becomes_a_nameless_const_of_its_target():
    raw, new, s = _down(NONE, I32, T.TypeTag("user", 1), T.Ptr(2))
    assert (s[2].kind, s[2].name, s[2].type) == (Kind.CONST, "", 1)
    assert s[3].kind == Kind.PTR and s[3].type == 2
    assert _records(new) == _records(raw)


def test_global_functions_become_static():
    proto = T.FuncProto(1, [T.Param("a", 1)])
    raw, new, s = _down(NONE._replace(func=True), I32, proto, T.Func("g", 2, 1),
                        T.Func("s", 2, 0))
    assert [s[i].linkage for i in (3, 4)] == [0, 0]
    assert s[3].kind == Kind.FUNC and s[3].name == "g"
    assert _records(new) == _records(raw)
    # where the kernel has global functions they stay global
    assert downgrade(raw, ALL._replace(enum64=False)) is raw


def test_without_datasec_vars_become_ints_and_sections_structs():
    raw, new, s = _down(NONE._replace(func=True), I32, T.Var("a", 1, 1), T.Var("b", 1, 1),
                        T.Datasec(".data.x", 12, [T.VarSecinfo(2, 0, 4),
                                                  T.VarSecinfo(3, 8, 4)]))
    assert [(s[i].kind, s[i].name, s[i].size) for i in (2, 3)] == \
        [(Kind.INT, "a", 1), (Kind.INT, "b", 1)]
    d = s[4]
    assert (d.kind, d.name, d.size) == (Kind.STRUCT, "_data_x", 12)
    assert [(m.name, m.type, m.offset_bits) for m in d.members] == [("a", 2, 0), ("b", 3, 64)]
    assert _records(new) == _records(raw)


def test_optional_section_names_lose_their_question_mark():
    raw, new, s = _down(ALL._replace(qmark_datasec=False), I32, T.Var("a", 1, 1),
                        T.Datasec("?.data", 4, [T.VarSecinfo(2, 0, 4)]))
    assert (s[3].kind, s[3].name) == (Kind.DATASEC, "_.data")


def test_without_funcs_protos_become_enums_with_named_values():
    raw, new, s = _down(NONE, I32, T.FuncProto(1, [T.Param("a", 1), T.Param("", 1)]),
                        T.Func("f", 2, 1))
    e = s[2]
    assert (e.kind, e.size) == (Kind.ENUM, 4)
    assert [v.name for v in e.values] == ["a", "pybpf_param_2_1"]
    assert (s[3].kind, s[3].name, s[3].type) == (Kind.TYPEDEF, "f", 2)
    assert _records(new) == _records(raw)


def test_other_types_keep_their_bytes_and_ids():
    types = [I32, T.Ptr(1), T.Array(1, 1, 3), T.Struct("s", 8, [T.Member("a", 1, 0),
                                                               T.Member("b", 1, 32)]),
             T.Float("float", 4), T.Typedef("t", 4), T.Enum("u", 4, False, [T.EnumValue("X", 2)])]
    raw = _blob(*types)
    new = downgrade(raw, NONE)
    recs = _records(raw)
    _, _, _, hlen, toff, tlen, _, _ = _HDR.unpack_from(raw)
    offs, _ = _index(raw, hlen + toff, hlen + toff + tlen)
    for i in (0, 1, 2, 3, 5, 6):                    # all but the FLOAT
        o = offs[i]
        assert new[o:o + recs[i]] == raw[o:o + recs[i]]


def test_a_malformed_datasec_is_a_btf_error():
    raw = _blob(I32, T.Var("a", 1, 1), T.Datasec(".data", 4, [T.VarSecinfo(2, 1 << 30, 4)]))
    with pytest.raises(errors.BTFError):
        downgrade(raw, NONE)


def test_the_objects_own_types_stay_as_they_were():
    """CO-RE reads the object's BTF: only a copy of its bytes is rewritten."""
    s = Spec()
    s.add(I32)
    s.add(T.Enum64("big", 8, False, [T.EnumValue("HI", 1 << 40)]))
    s.add(T.Float("float", 4))
    raw = kernel_btf_bytes(s)
    downgrade(raw, NONE)
    assert [s[i].kind for i in (1, 2, 3)] == [Kind.INT, Kind.ENUM64, Kind.FLOAT]
    assert s[2].values[0].value == 1 << 40


# -- fuzz ---------------------------------------------------------------------------------

def _type_strategy(n_before: int):
    """One BTF type whose references point at ids 0..n_before."""
    ref = st.integers(0, n_before)
    name = st.sampled_from(["", "a", "b_c", "x1"])
    value = st.integers(-(1 << 31), (1 << 31) - 1)
    value64 = st.integers(-(1 << 63), (1 << 64) - 1)
    return st.one_of(
        st.builds(T.Int, st.sampled_from(["int", "char"]), st.sampled_from([1, 2, 4, 8]),
                  st.just(0), st.sampled_from([8, 16, 32])),
        st.builds(T.Ptr, ref),
        st.builds(T.Const, ref),
        st.builds(T.Typedef, name, ref),
        st.builds(T.Float, name, st.sampled_from([2, 4, 8, 16])),
        st.builds(T.TypeTag, name, ref),
        st.builds(T.DeclTag, name, ref, st.integers(-1, 3)),
        st.builds(T.Var, name, ref, st.integers(0, 2)),
        st.builds(T.Func, name, ref, st.integers(0, 2)),
        st.builds(T.FuncProto, ref, st.lists(st.builds(T.Param, name, ref), max_size=3)),
        st.builds(lambda n, s, vs: T.Enum(n, 4, s, [
            T.EnumValue(f"v{i}", v if s else v & 0xFFFFFFFF) for i, v in enumerate(vs)]),
                  name, st.booleans(), st.lists(value, max_size=3)),
        st.builds(lambda n, s, vs: T.Enum64(n, 8, s, [
            T.EnumValue(f"w{i}", (v - (1 << 64) if v >> 63 else v) if s else v % (1 << 64))
            for i, v in enumerate(vs)]), name, st.booleans(), st.lists(value64, max_size=3)),
        st.builds(lambda n, ms: T.Struct(n, 16, [T.Member(f"m{i}", t, o)
                                                 for i, (t, o) in enumerate(ms)]),
                  name, st.lists(st.tuples(ref, st.integers(0, 96)), max_size=3)),
        st.builds(lambda n, vs: T.Datasec(n, 64, [T.VarSecinfo(t, o, 4) for t, o in vs]),
                  st.sampled_from([".data", "?.bss", ".rodata.x"]),
                  st.lists(st.tuples(ref, st.integers(0, 60)), max_size=3)),
    )


@st.composite
def _blobs(draw):
    s = Spec()
    for _ in range(draw(st.integers(0, 12))):
        s.add(draw(_type_strategy(len(s) - 1)))
    return s.to_bytes()


_kinds = st.builds(BtfKinds, *[st.booleans()] * len(BtfKinds._fields))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(_blobs(), _kinds)
def test_fuzz_any_accepted_blob_downgrades_to_a_well_formed_one(raw, kinds):
    Spec.parse(raw).check()
    new = downgrade(raw, kinds)
    s = Spec.parse(new)
    s.check()
    n = len(Spec.parse(raw))
    assert len(s) in (n, n + 1)
    left = {s[i].kind for i in range(1, len(s))}
    if not kinds.enum64:
        assert Kind.ENUM64 not in left
        assert not any(s[i].signed for i in range(1, len(s)) if s[i].kind == Kind.ENUM)
    if not kinds.float:
        assert Kind.FLOAT not in left
    if not kinds.decl_tag:
        assert Kind.DECL_TAG not in left
    if not kinds.type_tag:
        assert Kind.TYPE_TAG not in left
    if not kinds.datasec:
        assert not left & {Kind.VAR, Kind.DATASEC}
    if not kinds.func:
        assert not left & {Kind.FUNC, Kind.FUNC_PROTO}
    elif not kinds.func_global:
        assert all(s[i].linkage != 1 for i in range(1, len(s)) if s[i].kind == Kind.FUNC)


@pytest.fixture(scope="module")
def every_kind_blob() -> bytes:
    return _blob(I32, T.Var("a", 1, 1), T.Datasec("?.data", 4, [T.VarSecinfo(2, 0, 4)]),
                 T.Float("float", 4), T.DeclTag("t", 2, -1), T.TypeTag("u", 1), T.Ptr(6),
                 T.Enum("e", 4, True, [T.EnumValue("N", -1)]),
                 T.Enum64("f", 8, True, [T.EnumValue("M", -2)]),
                 T.FuncProto(1, [T.Param("", 1)]), T.Func("fn", 10, 1))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fuzz_mutated_bytes_give_bytes_or_a_btf_error(every_kind_blob, data):
    raw = bytearray(every_kind_blob)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        Spec.parse(bytes(raw))
    except errors.BTFError:
        return                                      # the parser refuses it: not our input
    try:
        downgrade(bytes(raw), data.draw(_kinds))
    except errors.BTFError:
        pass


# -- the running kernel -------------------------------------------------------------------

SRC = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

enum pt_big { PT_SMALL = 1, PT_BIG = 0x100000000ULL };
enum pt_neg { PT_NEG = -1, PT_POS = 1 };
struct pt_val { float f; __u32 count; enum pt_big big; enum pt_neg neg; };
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pt_val);
} pt_vals SEC(".maps");

const volatile int pt_tgid = 0;
int pt_seen __attribute__((btf_decl_tag("pt_decl"))) = 0;

static __noinline int pt_tagged(int __attribute__((btf_type_tag("pt_tag"))) *p)
{
    return p ? *p : 0;
}

__noinline int pt_global(int x)
{
    return x + 1;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int pt_sanitize_tp(void *ctx)
{
    __u32 k = 0;
    int one = 1;
    struct pt_val *v;

    if ((bpf_get_current_pid_tgid() >> 32) != pt_tgid)
        return 0;
    v = bpf_map_lookup_elem(&pt_vals, &k);
    if (v) {
        v->count += pt_tagged(&one);
        v->big = PT_BIG;
        v->neg = PT_NEG;
    }
    pt_seen = pt_global(pt_seen);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def every_kind_obj() -> bytes:
    return pybpf.compile(SRC)


def _kinds_of(btf) -> set:
    return {btf.raw_kind(i) for i in range(1, len(btf))}


def test_the_test_object_has_every_newer_kind(every_kind_obj):
    spec = pybpf.ObjectSpec.from_bytes(every_kind_obj)
    assert _NEWER <= _kinds_of(spec.btf)


def _forced_load(spec, kinds, variables=None):
    """``spec`` loaded as pybpf.load would, with the BTF rewritten for ``kinds``."""
    from pybpf.object.fullload import FullLoader
    from pybpf.object.loader import Object
    obj = Object(spec)
    loader = FullLoader(obj, {}, None, 0, None)
    loader.btf_kinds = kinds
    try:
        loader.set_globals(variables or {})
        loader.run(spec)
    except BaseException:
        obj.close()
        raise
    return obj


@pytest.mark.kernel
def test_this_kernel_takes_every_kind():
    from pybpf.features import Features
    assert Features().btf_kinds() == ALL


@pytest.mark.kernel
def test_every_tool_object_rewritten_for_an_old_kernel_loads_as_btf():
    """This kernel takes the old kinds as well: each rewrite must be BTF it accepts."""
    from pybpf.btf.handle import load_btf
    from pybpf.tools import _common, names
    for tool in names():
        data, _ = _common.tool_object(tool)
        spec = pybpf.ObjectSpec.from_bytes(data, name=tool)
        raw = kernel_btf_bytes(spec.btf)
        for kinds in (NONE, KINDS_5_10):
            new = downgrade(raw, kinds)
            assert not _NEWER & _kinds_of(Spec.parse(new)), tool
            load_btf(new).close()


def _shipped_specs():
    """(label, ObjectSpec) of every tool's object (programs for hooks this kernel lacks
    left out, as the tools do) and every other object pybpf ships."""
    from pybpf.btf.kernel import load_vmlinux
    from pybpf.tools import _common
    from tests.test_tools_core_kernels import SHIPPED, _tool_specs
    yield from _tool_specs(load_vmlinux())
    for path in SHIPPED:
        folder, name = os.path.split(os.path.join(os.path.dirname(pybpf.__file__), path))
        data, _ = _common.package_object(folder, name)
        yield path, pybpf.ObjectSpec.from_bytes(data, name=name)


@pytest.mark.kernel
@pytest.mark.parametrize("kinds", [KINDS_5_10, NONE], ids=["5.10", "none"])
def test_every_shipped_object_loads_with_the_rewrites(kinds):
    from pybpf.object.builder import _NO_BTF_KV
    loaded = {}
    for label, spec in _shipped_specs():
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # "loading without it" would fail
            with _forced_load(spec, kinds) as obj:
                assert obj.btf_fd is not None, label
                btf_id = btf_info(obj.btf_fd.fileno()).id
                # programs carry func and line info where the kernel has BTF FUNCs
                assert all(p.info().btf_id == (btf_id if kinds.func else 0)
                           for p in obj.programs.values()), label
                # every BTF-described map kept its description (some types take none;
                # global data, a DATASEC's, came with DATASECs in 5.2)
                assert all(m.info().btf_id == btf_id for n, m in obj.maps.items()
                           if spec.maps[n].value_type_id and
                           spec.maps[n].type not in _NO_BTF_KV and
                           (kinds.datasec or spec.btf.raw_kind(spec.maps[n].value_type_id)
                            != Kind.DATASEC)), label
                loaded[label] = len(obj.programs)
    # trace and argdist generate their C per command line: their objects have no programs
    assert sorted(t for t, n in loaded.items() if not n) == ["argdist", "trace"]
    assert len(loaded) >= 45


@pytest.mark.kernel
@pytest.mark.parametrize("kinds", [KINDS_5_10, NONE], ids=["5.10", "none"])
def test_every_newer_kind_rewritten_still_counts(every_kind_obj, kinds):
    spec = pybpf.ObjectSpec.from_bytes(every_kind_obj, name="pt_sanitize")
    before = [spec.btf.raw_kind(i) for i in range(1, len(spec.btf))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obj = _forced_load(spec, kinds, {"pt_tgid": os.getpid()})
    with obj:
        btf_id = btf_info(obj.btf_fd.fileno()).id
        # the map keeps its BTF description (a BTF-less map would have btf_id 0)
        assert obj.maps["pt_vals"].info().btf_id == btf_id
        # func and line info need BTF FUNCs: a kernel without them gets none (libbpf)
        assert obj.programs["pt_sanitize_tp"].info().btf_id == (btf_id if kinds.func else 0)
        assert len(obj.attach()) == 1
        for _ in range(7):
            os.getppid()
        raw = obj.maps["pt_vals"].lookup_raw((0).to_bytes(4, "little"))
        _, count, big, neg = struct.unpack("<IIQI4x", raw)
        assert (count, big, neg) == (7, 1 << 32, 0xFFFFFFFF)
        assert int.from_bytes(obj.global_value("pt_seen"), "little") == 7
    # CO-RE and the rest of pybpf read the object's types as clang wrote them
    assert [spec.btf.raw_kind(i) for i in range(1, len(spec.btf))] == before


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A fresh cache, so the first load records a plan and the second replays it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYBPF_NO_PLAN", raising=False)


def _old_kernel(monkeypatch) -> list:
    """Make BPF_BTF_LOAD refuse what 5.10's refuses (FLOAT, DECL_TAG, TYPE_TAG, ENUM64,
    signed ENUMs), probes included; returns the list of blobs it was given."""
    from pybpf import features
    from pybpf.btf import handle
    real, seen = handle.load_btf, []

    def load_btf(blob, log_level=0):
        seen.append(blob)
        s = Spec.parse(blob)
        for i in range(1, len(s)):
            if s.raw_kind(i) in _NEWER or (s.raw_kind(i) == Kind.ENUM and s[i].signed):
                raise errors.BTFError(f"the kernel rejected the BTF (Invalid argument):\n"
                                      f"[{i}] {Kind(s.raw_kind(i)).name} Invalid kind")
        return real(blob)
    monkeypatch.setattr(handle, "load_btf", load_btf)
    monkeypatch.setattr(features, "_load_btf", load_btf)
    return seen


@pytest.mark.kernel
def test_a_current_kernel_loads_the_btf_as_it_is_without_probing(every_kind_obj, monkeypatch):
    from pybpf.features import Features

    def no_probe(self):
        raise AssertionError("probed BTF kinds on a kernel that took the BTF")
    monkeypatch.setattr(Features, "btf_kinds", no_probe)
    monkeypatch.setenv("PYBPF_NO_PLAN", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pybpf.load(every_kind_obj, name="pt_sanitize") as obj:
            assert obj.btf_fd is not None


@pytest.mark.kernel
def test_an_old_kernel_gets_the_rewritten_btf_and_its_plan_keeps_it(
        every_kind_obj, monkeypatch, private_cache):
    from pybpf.object import plan
    seen = _old_kernel(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # no "loading without it"
        with pybpf.load(every_kind_obj, name="pt_sanitize") as obj:
            assert obj._plan is None and obj.btf_fd is not None
    # as is (refused), the eight probes, then the rewrite (taken)
    assert len(seen) == 10
    p = plan.read(plan.key(every_kind_obj, "pt_sanitize"))
    assert p is not None and p["btf"] == seen[-1]
    left = _kinds_of(Spec.parse(p["btf"]))
    assert not left & _NEWER and Kind.UNION in left
    # the warm start loads the recorded bytes at once: no refusal, no probe
    del seen[:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pybpf.load(every_kind_obj, name="pt_sanitize",
                        variables={"pt_tgid": os.getpid()}) as obj:
            assert obj._plan is not None and obj.btf_fd is not None
            assert seen == [p["btf"]]
            assert len(obj.attach()) == 1
            for _ in range(3):
                os.getppid()
            _, count, big, neg = struct.unpack(
                "<IIQI4x", obj.maps["pt_vals"].lookup_raw((0).to_bytes(4, "little")))
            assert (count, big, neg) == (3, 1 << 32, 0xFFFFFFFF)


@pytest.mark.kernel
def test_btf_still_refused_after_the_rewrite_loads_without_it(every_kind_obj, monkeypatch):
    """When the rewrite does not help either, the object loads without BTF, as before,
    and says why in one line."""
    from pybpf.btf import handle
    from pybpf.features import Features

    def refuse(blob, log_level=0):
        raise errors.BTFError("the kernel rejected the BTF (Invalid argument):\n"
                              "[1] INT int Invalid something")
    monkeypatch.setattr(handle, "load_btf", refuse)
    monkeypatch.setattr(Features, "btf_kinds", lambda self: KINDS_5_10)
    monkeypatch.setenv("PYBPF_NO_PLAN", "1")
    with pytest.warns(UserWarning, match=r"loading without it: \[1\] INT int Invalid "
                                         r"something$"):
        with pybpf.load(every_kind_obj, name="pt_sanitize") as obj:
            assert obj.btf_fd is None and len(obj.programs) == 1


def test_a_plan_is_keyed_by_the_kernel(monkeypatch):
    """The rewritten bytes a plan records fit the kernel that took them only: another
    kernel (build, BTF size or boot) has another plan."""
    from pybpf import kernelid
    from pybpf.object import plan
    keys = set()
    for kernel in ("5.10-a", "6.1-b", "6.18-c"):
        monkeypatch.setattr(kernelid, "kernel_key", lambda k=kernel: k)
        keys.add(plan.key(b"same object", "same"))
    assert len(keys) == 3
