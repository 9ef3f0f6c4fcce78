"""Objects written for iproute2's ``tc ... bpf obj`` (our own, tests/data/tc_objects, in
its style) loaded by pybpf as ``tc`` loads them: legacy ``struct bpf_elf_map`` maps pinned
per object or globally, "ID/KEY" tail calls, inner_id/inner_idx map-in-map, BTF types
from the key/value annotation; real frames through a veth pair in a network namespace,
and Debian's ``tc`` loading the BTF variants as the oracle.  (iproute2's own examples run
in bench/bench_iproute2_objects.py, from a checkout of iproute2.)

Observables: the programs' counter maps, the lines they log with bpf_trace_printk (read
from a tracefs instance of our own), and the peer's rx counter (a classifier that returns
TC_ACT_SHOT drops the frame)."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest
from hypothesis import given, settings, strategies as st

import pybpf
from pybpf import errors
from pybpf.object import iproute2 as I
from pybpf._sys.uapi import MapType, ProgType
from tests import tclab
from tests.tclab import N, shape as _shape, u32 as _u32, values as _values

HERE = os.path.dirname(os.path.abspath(__file__))
TC_OBJECTS = os.path.join(HERE, "data", "tc_objects")
BTF = ["-DBTF_MAPS"]        # the BTF-defined-maps variant of a program (tc can load those)


def _obj(name: str, cflags=()) -> bytes:
    return pybpf.compile(os.path.join(TC_OBJECTS, name + ".bpf.c"), cflags=list(cflags))


# ---- parsing (no root needed) ----------------------------------------------------------

def _elf_tail(id=0, pinning=0, inner_id=0, inner_idx=0) -> bytes:
    return struct.pack("<4I", id, pinning, inner_id, inner_idx)


def test_tail_call_sections_read_as_tc_reads_them():
    assert I.tail_call_slot("42/1") == (42, 1)
    assert I.tail_call_slot("0xc0ffee/0") == (0xC0FFEE, 0)     # "#ID" of 0xc0ffee
    assert I.tail_call_slot("010/7") == (8, 7)                  # %i: a leading 0 is octal
    for name in ("classifier", "socket/tail", "1/", "/1", "1/2/3", "x1/2", "1/0x", "09/1",
                 "\u0663/1"):
        assert I.tail_call_slot(name) is None, name


def test_elf_map_tail_fields_and_refusals():
    assert I.parse_tail("m", bytes(16)) is None
    t = I.parse_tail("m", _elf_tail(7, I.PIN_OBJECT_NS, 0, 3))
    assert (t.id, t.pinning, t.inner_id, t.inner_idx) == (7, 1, 0, 3)
    with pytest.raises(errors.ELFError, match=r"pinning 5 is a custom entry"):
        I.parse_tail("m", _elf_tail(pinning=5))
    with pytest.raises(errors.ELFError, match=r"4 bytes past struct bpf_map_def"):
        I.parse_tail("m", b"\1\0\0\0")


LEGACY = ("tc_shared", "tc_tailcall", "tc_cyclic", "tc_map_in_map", "tc_graft")
WITH_BTF = ("tc_shared", "tc_map_in_map", "tc_graft")


@pytest.fixture(scope="module")
def objects() -> dict[str, bytes]:
    """name -> object: the legacy builds, and "<name>+btf" for the BTF-maps ones."""
    objs = {n: _obj(n) for n in LEGACY}
    objs.update({f"{n}+btf": _obj(n, BTF) for n in WITH_BTF})
    return objs


def test_objects_parse_into_pins_slots_and_templates(objects):
    spec = pybpf.ObjectSpec.from_bytes(objects["tc_tailcall"])
    uid = hashlib.sha1(objects["tc_tailcall"]).hexdigest()
    assert {n: (m.pinning, m.pin_name) for n, m in spec.maps.items() if m.section == "maps"} \
        == {n: (1, f"{uid}/{n}") for n in ("hops", "last", "seen")}
    assert spec.maps["hops"].contents == {0: "hop_a", 1: "hop_b"}
    assert spec.maps["last"].contents == {0: "finish"}                 # section "0x20/0"
    # the tail calls take the type of the object's one classifier, as tc gives them
    assert {p.type for p in spec.programs.values()} == {ProgType.SCHED_CLS}
    spec = pybpf.ObjectSpec.from_bytes(objects["tc_cyclic"])
    assert spec.maps["ring"].contents == {0: "spin"}                   # "0xc0ffee/0"
    spec = pybpf.ObjectSpec.from_bytes(objects["tc_map_in_map"])
    outer, inner = spec.maps["tallies"], spec.maps["tally"]
    assert (outer.pinning, inner.pinning, outer.pin_name) == (1, 1, "")  # PIN_GLOBAL_NS
    t = outer.inner
    assert (t.type, t.key_size, t.value_size, t.max_entries, t.pinning) == \
        (MapType.ARRAY, 4, 4, 1, 0)
    assert outer.contents == {0: "tally"}                                 # inner_idx 0
    assert I.tc_sections(spec) == {"count_out": "tc", "show_in": "tc"}


def _legacy_object(maps: dict, programs: str = "") -> bytes:
    """A tiny tc object with legacy maps ``maps`` (name -> 9 fields) compiled here."""
    defs = "".join(f"struct tc_map_def {n} TC_MAP = {{ {', '.join(map(str, v))} }};\n"
                   for n, v in maps.items())
    src = ('#include "tc_elf.h"\n' + defs + programs +
           'TC_ENTRY int e(struct __sk_buff *skb) { return 0; }\n'
           'TC_LICENSE("GPL");\n')
    return pybpf.compile(src, includes=[TC_OBJECTS])


@pytest.mark.parametrize("maps,programs,match", [
    ({"o": (12, 4, 4, 1, 0, 0, 0, 9, 0)}, "", r"legacy map 'o': no map has id 9"),
    ({"o": (2, 4, 4, 1, 0, 0, 0, 9, 0)}, "", r"inner_id 9 on a map of type ARRAY, which "),
    ({"i": (2, 4, 4, 1, 0, 9, 0, 0, 4), "o": (12, 4, 4, 2, 0, 0, 0, 9, 0)}, "",
     r"legacy map 'i': inner_idx 4 is past the 2 slots of 'o'"),
    ({"j": (3, 4, 4, 2, 0, 5, 0, 0, 0)},
     "TC_TAIL(6, 0) int t(struct __sk_buff *s) { return 0; }\n",
     r"program 't' in tail-call section '6/0': no program array has id 6"),
    ({"j": (3, 4, 4, 2, 0, 5, 0, 0, 0)},
     "TC_TAIL(5, 2) int t(struct __sk_buff *s) { return 0; }\n",
     r"section '5/2': key 2 is past the 2 slots of 'j'"),
])
def test_inconsistent_iproute2_objects_are_refused_in_one_line(maps, programs, match):
    data = _legacy_object(maps, programs)
    with pytest.raises(errors.ELFError, match=match) as ei:
        pybpf.ObjectSpec.from_bytes(data)
    assert "\n" not in str(ei.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24), st.binary(min_size=16, max_size=16))
def test_section_names_and_map_tails_of_any_shape(section, tail):
    slot = I.tail_call_slot(section)
    assert slot is None or (section.count("/") == 1 and all(0 <= v < 1 << 32 for v in slot))
    try:
        t = I.parse_tail("m", tail)
    except errors.ELFError as e:
        assert "\n" not in str(e)
    else:
        assert t is None or t.pinning in (0, 1, 2)


@settings(max_examples=150, deadline=None)
@given(which=st.sampled_from(["tc_tailcall", "tc_map_in_map"]),
       flips=st.lists(st.tuples(st.integers(0, 1 << 10), st.integers(0, 255)), min_size=1,
                      max_size=6))
def test_mutated_bpf_elf_maps_give_a_consistent_spec_or_one_error(objects, which, flips):
    """ids, pinning, inner_id, inner_idx in any state: the spec's slots then name maps and
    programs that exist, within the outer map's size, or parsing says why in one line."""
    from pybpf.elf import ELFFile
    data = objects[which]
    sec = ELFFile(data).section("maps")
    b = bytearray(data)
    for pos, val in flips:
        b[sec.offset + pos % sec.size] = val
    try:
        spec = pybpf.ObjectSpec.from_bytes(bytes(b))
    except errors.PybpfError as e:
        assert "\n" not in str(e)
        return
    for name, m in spec.maps.items():
        assert m.pinning in (0, 1)
        for slot, what in m.contents.items():
            if m.type == MapType.PROG_ARRAY:
                assert what in spec.programs and slot < m.max_entries
            else:
                assert what in spec.maps and m.inner is not None
                assert m.type == MapType.HASH_OF_MAPS or slot < m.max_entries


# ---- the kernel: real frames through a veth pair -----------------------------------------

@pytest.fixture(scope="module")
def lab():
    with tclab.lab("pybpf-ip2") as lab:
        yield lab


@pytest.fixture
def fresh(lab):
    """No filters, links or pins left from the test before; an empty trace."""
    lab.clear_trace()
    yield lab
    lab.reset()


def _write(tmp_path, data: bytes) -> str:
    path = str(tmp_path / "x.o")
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.mark.kernel
def test_legacy_shared_map_is_pinned_per_object_and_shared_by_two_loads(fresh, objects):
    data = objects["tc_shared"]
    load = dict(pin_root=fresh.root, name="tc_shared")
    with pybpf.load(data, programs=["count_out"], sections={"count_out": "tc"}, **load) as eg, \
            pybpf.load(data, programs=["show_in"], sections={"show_in": "tc"}, **load) as ig:
        # tc's place for a PIN_OBJECT_NS map: a directory named by the object's SHA-1
        d = os.path.join(fresh.root, hashlib.sha1(data).hexdigest())
        assert os.listdir(d) == ["hits"] and os.stat(d).st_mode & 0o777 == 0o700
        assert eg.maps["hits"].id == ig.maps["hits"].id
        eg.programs["count_out"].attach_tc("va", "egress")
        ig.programs["show_in"].attach_tc("vb", "ingress")
        fresh.send()
        assert _u32(ig.maps["hits"], 0) == N
        # the ingress side read what the egress side counted, frame by frame
        assert _values(fresh.printed(N, "pyip2 shared: "), "pyip2 shared: ") == \
            list(range(1, N + 1))


@pytest.mark.kernel
def test_legacy_tail_call_chain_is_placed_and_reached(fresh, objects):
    data = objects["tc_tailcall"]
    with pybpf.load(data, pin_root=fresh.root, name="tc_tailcall") as obj:
        ids = {n: p.info().id for n, p in obj.programs.items()}
        hops, last = obj.maps["hops"], obj.maps["last"]
        assert (_u32(hops, 0), _u32(hops, 1), _u32(last, 0)) == \
            (ids["hop_a"], ids["hop_b"], ids["finish"])
        uid = hashlib.sha1(data).hexdigest()
        assert sorted(os.listdir(os.path.join(fresh.root, uid))) == ["hops", "last", "seen"]
        obj.programs["start"].attach_tc("va", "egress")
        fresh.send()
        lines = fresh.printed(N, "pyip2 hop_a: ") + fresh.printed(N, "pyip2 finish: ")
        # start -> hops[hash & 1]: hop_a, or hop_b -> hops[0] (hop_a); hop_a sets
        # cb[0] = 0 -> last[0] (finish); none fell through
        assert _values(lines, "pyip2 hop_a: ") == list(range(1, N + 1))
        assert _values(lines, "pyip2 finish: ") == list(range(1, N + 1))
        assert all(ln.endswith("from:0") for ln in lines if ln.startswith("pyip2 finish"))
        assert not fresh.printed(0, "pyip2 missed") and _u32(obj.maps["seen"], 0) == N
        # a second load (replayed from the plan the first recorded) finds the same pins,
        # and puts its own programs in the shared arrays, as a second tc invocation does
        with pybpf.load(data, pin_root=fresh.root, name="tc_tailcall") as again:
            assert again.maps["hops"].id == hops.id and _u32(again.maps["seen"], 0) == N
            assert _u32(hops, 1) == again.programs["hop_b"].info().id


@pytest.mark.kernel
def test_legacy_cyclic_tail_calls_run_to_the_kernel_limit(fresh, objects):
    with pybpf.load(objects["tc_cyclic"], pin_root=fresh.root) as obj:
        obj.programs["start"].attach_tc("va", "egress")
        before = fresh.rx()
        fresh.send(1)
        # 33 tail calls (MAX_TAIL_CALL_CNT): spin ran 33 times, then returned
        # TC_ACT_OK; had the entry's tail call missed, TC_ACT_SHOT would drop the frame
        assert _values(fresh.printed(33, "pyip2 spin: "), "pyip2 spin: ") == list(range(33))
        assert fresh.wait_rx(before) == 1


@pytest.mark.kernel
def test_legacy_map_in_map_fills_the_outer_map_with_its_inner(fresh, objects):
    data = objects["tc_map_in_map"]
    spec = pybpf.ObjectSpec.from_bytes(data, name="tc_map_in_map")
    with pybpf.load(spec, pin_root=fresh.root, sections=I.tc_sections(spec)) as obj:
        assert sorted(os.listdir(fresh.root)) == ["tallies", "tally"]
        outer, inner = obj.maps["tallies"], obj.maps["tally"]
        assert _u32(outer, 0) == inner.id
        obj.programs["count_out"].attach_tc("va", "egress")
        obj.programs["show_in"].attach_tc("vb", "ingress")
        fresh.send()
        assert _u32(inner, 0) == N
        assert _values(fresh.printed(N, "pyip2 mim: "), "pyip2 mim: ") == \
            list(range(1, N + 1))


@pytest.mark.kernel
@pytest.mark.parametrize("which", ["tc_graft+btf", "tc_graft"])
def test_graft_replaces_the_tail_call_at_run_time(fresh, objects, which, tmp_path):
    """The entry loaded by tc (BTF variant; Debian's tc cannot load legacy maps) or by
    pybpf, the grafted sections by pybpf, sharing ``jumps`` through tc's global pin."""
    data = objects[which]
    load = dict(pin_root=fresh.tc_globals, name="tc_graft")
    entry = None
    if which.endswith("+btf"):
        fresh.tc("qdisc", "add", "dev", "va", "clsact")
        fresh.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj",
                 _write(tmp_path, data), "sec", "classifier")
        assert os.listdir(fresh.tc_globals) == ["jumps"]
    else:
        os.makedirs(fresh.tc_globals)
        entry = pybpf.load(data, programs=["start"], **load)
        entry.programs["start"].attach_tc("va", "egress")
    try:
        with pybpf.load(data, programs=["swap_a", "swap_b"],
                        sections={"swap_a": "tc", "swap_b": "tc"}, **load) as g:
            jumps = g.maps["jumps"]
            assert jumps.lookup_raw(0) is None         # starts out empty, on purpose
            fresh.send()
            assert len(fresh.printed(N, "pyip2 graft fallthrough")) == N
            for x in ("a", "b"):                       # tc exec bpf graft m:globals/jumps
                jumps.update(0, struct.pack("<I", g.programs[f"swap_{x}"].fileno()))
                fresh.send()
                line = f"pyip2 swap {x}"
                assert [ln for ln in fresh.printed(N, line) if ln == line] == [line] * N
    finally:
        if entry is not None:
            entry.close()


@pytest.mark.kernel
@pytest.mark.parametrize("which,sec,prog", [("tc_shared+btf", "egress", "count_out"),
                                            ("tc_map_in_map+btf", "egress", "count_out"),
                                            ("tc_graft+btf", "classifier", "start")])
def test_tc_and_pybpf_pin_the_same_maps_of_the_same_shape(fresh, objects, tmp_path,
                                                          which, sec, prog):
    fresh.tc("qdisc", "add", "dev", "va", "clsact")
    fresh.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj",
             _write(tmp_path, objects[which]), "sec", sec)
    theirs = {n: pybpf.Map.from_pin(os.path.join(fresh.tc_globals, n))
              for n in os.listdir(fresh.tc_globals)}
    try:
        with pybpf.load(objects[which], programs=[prog], sections={prog: "tc"},
                        pin_root=fresh.root) as obj:
            assert sorted(os.listdir(fresh.root)) == sorted(theirs)
            for n, m in theirs.items():
                assert _shape(obj.maps[n]) == _shape(m) and obj.maps[n].id != m.id
            if "tallies" in theirs:       # each filled its outer map with its inner map
                tc_inner = pybpf.Map.from_id(_u32(theirs["tallies"], 0))
                with tc_inner:
                    assert _shape(tc_inner) == _shape(obj.maps["tally"])
                assert _u32(obj.maps["tallies"], 0) == obj.maps["tally"].id
    finally:
        for m in theirs.values():
            m.close()


@pytest.mark.kernel
def test_tc_and_pybpf_share_btf_maps_through_tc_globals(fresh, objects, tmp_path):
    """tc_shared: tc loads the egress side, pybpf the ingress side onto tc's pin;
    tc_map_in_map the other way round: tc's egress reuses pybpf's pinned outer map
    and counts into pybpf's inner map."""
    data = objects["tc_shared+btf"]
    fresh.tc("qdisc", "add", "dev", "va", "clsact")
    fresh.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj",
             _write(tmp_path, data), "sec", "egress")
    assert os.listdir(fresh.tc_globals) == ["hits"]
    with pybpf.load(data, programs=["show_in"], sections={"show_in": "tc"},
                    pin_root=fresh.tc_globals) as ig:
        ig.programs["show_in"].attach_tc("vb", "ingress")
        fresh.send()
        assert _u32(ig.maps["hits"], 0) == N                     # counted by tc's program
        assert _values(fresh.printed(N, "pyip2 shared: "), "pyip2 shared: ") == \
            list(range(1, N + 1))
    fresh.tc("filter", "del", "dev", "va", "egress")
    os.unlink(os.path.join(fresh.tc_globals, "hits"))
    fresh.clear_trace()

    data = objects["tc_map_in_map+btf"]
    with pybpf.load(data, programs=["show_in"], sections={"show_in": "tc"},
                    pin_root=fresh.tc_globals) as ig:
        assert os.listdir(fresh.tc_globals) == ["tallies"]
        fresh.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj",
                 _write(tmp_path, data), "sec", "egress")
        ig.programs["show_in"].attach_tc("vb", "ingress")
        fresh.send()
        assert _u32(ig.maps["tally"], 0) == N                    # tc's program, our inner map
        assert _values(fresh.printed(N, "pyip2 mim: "), "pyip2 mim: ") == \
            list(range(1, N + 1))


KV_TYPES = """#include "tc_elf.h"
struct tally { __u32 frames; __u32 octets; };
struct tc_map_def totals TC_MAP = {
	.type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 8, .max_elem = 1,
};
TC_MAP_TYPES(totals, __u32, struct tally);
struct tc_map_def narrow TC_MAP = {
	.type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 4, .max_elem = 1,
};
TC_MAP_TYPES(narrow, __u32, struct tally);	/* 8 bytes for 4: ignored, as tc does */
TC_ENTRY int count(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct tally *t = bpf_map_lookup_elem(&totals, &zero);
	__u32 *n = bpf_map_lookup_elem(&narrow, &zero);

	if (t) {
		__sync_fetch_and_add(&t->frames, 1);
		__sync_fetch_and_add(&t->octets, skb->len);
	}
	return n ? TC_ACT_OK : TC_ACT_SHOT;
}
TC_LICENSE("GPL");
"""


@pytest.mark.kernel
def test_kv_annotation_gives_a_legacy_map_its_btf_types(fresh):
    data = pybpf.compile(KV_TYPES, includes=[TC_OBJECTS])
    spec = pybpf.ObjectSpec.from_bytes(data)
    totals, narrow = spec.maps["totals"], spec.maps["narrow"]
    assert spec.btf[totals.value_type_id].name == "tally" and totals.key_type_id
    assert (narrow.key_type_id, narrow.value_type_id) == (0, 0)
    with pybpf.load(data, name="kv") as obj:
        assert obj.maps["totals"].info().btf_id and not obj.maps["narrow"].info().btf_id
        obj.programs["count"].attach_tc("va", "egress")
        fresh.send()
        v = obj.typed_map("totals")[0]
        assert (v.frames, v.octets) == (N, N * 60)


@pytest.mark.kernel
def test_pinned_map_of_another_shape_is_refused_in_one_line(fresh, objects):
    data = objects["tc_map_in_map"]
    spec = pybpf.ObjectSpec.from_bytes(data)
    with pybpf.load(data, pin_root=fresh.root, sections=I.tc_sections(spec)):
        for p in spec.programs.values():
            p.autoload = False
        spec.maps["tally"].max_entries = 2
        spec.maps["tally"].value_size = 8
        with pytest.raises(errors.PinnedMapError) as ei:
            pybpf.load(spec, pin_root=fresh.root)
        assert str(ei.value) == (
            f"map 'tally': the map pinned at {fresh.root}/tally has another shape: "
            "value_size 8 (object) != 4 (pin), max_entries 2 (object) != 1 (pin) "
            "(unpin it, or pin elsewhere)")


@pytest.mark.kernel
def test_program_of_another_type_on_a_shared_prog_array_says_why(fresh, objects):
    data = objects["tc_tailcall"]
    with pybpf.load(data, pin_root=fresh.root, name="tc_tailcall") as obj:
        secs = {n: "action" for n in obj.programs}          # tc ... action: SCHED_ACT
        with pytest.raises(errors.KernelError) as ei:
            pybpf.load(data, pin_root=fresh.root, name="tc_tailcall", sections=secs)
        ids = {obj.maps["hops"].id, obj.maps["last"].id}
        msg = str(ei.value)
        assert "\n" not in msg and "(sched_act," in msg and any(
            f"uses program array id {i}, which holds sched_cls programs" in msg for i in ids)
