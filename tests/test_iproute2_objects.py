"""iproute2's own tc examples (tests/data/iproute2, compiled as its README says) loaded by
pybpf as ``tc`` loads them: legacy ``struct bpf_elf_map`` maps pinned per object or
globally, "ID/KEY" tail calls, inner_id/inner_idx map-in-map; real frames through a veth
pair in a network namespace, and Debian's ``tc`` loading the BTF examples as the oracle.

Observables: the examples' counter maps, the lines their ``printt`` writes (read from a
tracefs instance of our own, so the global trace buffer is left alone), and the peer's
rx counter (a classifier that returns TC_ACT_SHOT drops the frame)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import pytest
from hypothesis import given, settings, strategies as st

import pybpf
from pybpf import errors
from pybpf.object import iproute2 as I
from pybpf._sys.uapi import MapType, ProgType
from tests.netns import entered

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "data", "iproute2", "examples", "bpf")
INCLUDE = os.path.join(HERE, "data", "iproute2", "include")
# iproute2's README: clang -O2 -target bpf -c; its bpf_api.h includes <stdint.h>, which a
# hosted BPF target cannot take from glibc: clang's own (freestanding) one serves
CFLAGS = ["-ffreestanding"]


def _obj(name: str) -> bytes:
    return pybpf.compile(os.path.join(EXAMPLES, name), cflags=CFLAGS)


# ---- parsing (no root needed) ----------------------------------------------------------

def _elf_tail(id=0, pinning=0, inner_id=0, inner_idx=0) -> bytes:
    return struct.pack("<4I", id, pinning, inner_id, inner_idx)


def test_tail_call_sections_read_as_tc_reads_them():
    assert I.tail_call_slot("42/1") == (42, 1)
    assert I.tail_call_slot("0xabccba/0") == (0xABCCBA, 0)     # __stringify(0xabccba)
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


@pytest.fixture(scope="module")
def objects() -> dict[str, bytes]:
    return {n: _obj(n) for n in ("legacy/bpf_shared.c", "legacy/bpf_tailcall.c",
                                 "legacy/bpf_cyclic.c", "legacy/bpf_map_in_map.c",
                                 "legacy/bpf_graft.c", "bpf_shared.c", "bpf_map_in_map.c",
                                 "bpf_graft.c")}


def test_examples_parse_into_pins_slots_and_templates(objects):
    spec = pybpf.ObjectSpec.from_bytes(objects["legacy/bpf_tailcall.c"])
    uid = hashlib.sha1(objects["legacy/bpf_tailcall.c"]).hexdigest()
    assert {n: (m.pinning, m.pin_name) for n, m in spec.maps.items() if m.section == "maps"} \
        == {n: (1, f"{uid}/{n}") for n in ("jmp_tc", "jmp_ex", "map_sh")}
    assert spec.maps["jmp_tc"].contents == {0: "cls_case1", 1: "cls_case2"}
    assert spec.maps["jmp_ex"].contents == {0: "cls_exit"}
    # the tail calls take the type of the object's one classifier, as tc gives them
    assert {p.type for p in spec.programs.values()} == {ProgType.SCHED_CLS}
    spec = pybpf.ObjectSpec.from_bytes(objects["legacy/bpf_cyclic.c"])
    assert spec.maps["jmp_tc"].contents == {0: "cls_loop"}          # section "0xabccba/0"
    spec = pybpf.ObjectSpec.from_bytes(objects["legacy/bpf_map_in_map.c"])
    outer, inner = spec.maps["map_outer"], spec.maps["map_inner"]
    assert (outer.pinning, inner.pinning, outer.pin_name) == (1, 1, "")  # PIN_GLOBAL_NS
    t = outer.inner
    assert (t.type, t.key_size, t.value_size, t.max_entries, t.pinning) == \
        (MapType.ARRAY, 4, 4, 1, 0)
    assert outer.contents == {0: "map_inner"}                         # inner_idx 0
    assert I.tc_sections(spec) == {"emain": "tc", "imain": "tc"}


def _legacy_object(maps: dict, programs: str = "") -> bytes:
    """A tiny tc object with legacy maps ``maps`` (name -> 9 fields) compiled here."""
    defs = "".join(f"struct bpf_elf_map __section_maps {n} = {{ {', '.join(map(str, v))} }};\n"
                   for n, v in maps.items())
    src = ('#include "bpf_api.h"\n' + defs + programs +
           '__section_cls_entry int e(struct __sk_buff *skb) { return 0; }\n'
           'BPF_LICENSE("GPL");\n')
    return pybpf.compile(src, cflags=CFLAGS, includes=[INCLUDE])


@pytest.mark.parametrize("maps,programs,match", [
    ({"o": (12, 4, 4, 1, 0, 0, 0, 9, 0)}, "", r"legacy map 'o': no map has id 9"),
    ({"o": (2, 4, 4, 1, 0, 0, 0, 9, 0)}, "", r"inner_id 9 on a map of type ARRAY, which "),
    ({"i": (2, 4, 4, 1, 0, 9, 0, 0, 4), "o": (12, 4, 4, 2, 0, 0, 0, 9, 0)}, "",
     r"legacy map 'i': inner_idx 4 is past the 2 slots of 'o'"),
    ({"j": (3, 4, 4, 2, 0, 5, 0, 0, 0)},
     "__section_tail(6, 0) int t(struct __sk_buff *s) { return 0; }\n",
     r"program 't' in tail-call section '6/0': no program array has id 6"),
    ({"j": (3, 4, 4, 2, 0, 5, 0, 0, 0)},
     "__section_tail(5, 2) int t(struct __sk_buff *s) { return 0; }\n",
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
@given(which=st.sampled_from(["legacy/bpf_tailcall.c", "legacy/bpf_map_in_map.c"]),
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

N = 5


class Lab:
    """veth ``va`` <-> ``vb`` in a fresh netns (IPv6 off: no frames but ours), a bpffs
    mounted on a temp dir (pins of pybpf and of tc's TC_BPF_MNT), a tracefs instance
    receiving bpf_trace_printk events."""

    def __init__(self, mnt: str, trace: str):
        self.mnt, self.trace = mnt, trace
        self.tc_globals = os.path.join(mnt, "tc", "globals")
        self.root = os.path.join(mnt, "pybpf")
        out = subprocess.run(["ip", "-j", "link", "show", "dev", "vb"], check=True,
                             capture_output=True, text=True).stdout
        self.vb_mac = bytes.fromhex(json.loads(out)[0]["address"].replace(":", ""))

    def send(self, n: int = N) -> None:
        """``n`` frames out of va (its egress hook), into vb (its ingress hook)."""
        frame = self.vb_mac + b"\x02\0\0\0\0\1" + b"\x88\xb5" + b"pybpf-iproute2".ljust(46)
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind(("va", 0))
            for _ in range(n):
                s.send(frame)

    def rx(self) -> int:
        """vb's received frames (/proc/net is this netns's; /sys/class/net is not)."""
        with open("/proc/self/net/dev") as f:
            row = next(ln for ln in f if ln.strip().startswith("vb:"))
        return int(row.split(":", 1)[1].split()[1])

    def clear_trace(self) -> None:
        with open(os.path.join(self.trace, "trace"), "w"):
            pass

    def printed(self, want: int, prefix: str) -> list[str]:
        """The printt lines starting with ``prefix`` (waiting up to 2 s for ``want`` of
        them: vb's ingress runs from the backlog, maybe on the other CPU).  The event is
        system-wide: other programs' lines reach this instance too, hence the prefixes."""
        for _ in range(40):
            with open(os.path.join(self.trace, "trace")) as f:
                lines = [ln.split("bpf_trace_printk: ", 1)[1].strip() for ln in f
                         if "bpf_trace_printk: " in ln]
            lines = [ln for ln in lines if ln.startswith(prefix)]
            if len(lines) >= want:
                return lines
            time.sleep(0.05)
        return lines

    def tc(self, *args: str) -> str:
        r = subprocess.run(["tc", *args], capture_output=True, text=True,
                           env={**os.environ, "TC_BPF_MNT": self.mnt})
        assert r.returncode == 0, r.stderr
        return r.stdout


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def lab():
    from pybpf import bpffs, tracefs
    with entered("pybpf-ip2"):
        for conf in ("all", "default"):
            with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as f:
                f.write("1")
        _sh("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
        _sh("ip", "link", "set", "va", "up")
        _sh("ip", "link", "set", "vb", "up")
        mnt = tempfile.mkdtemp(prefix="pybpf-ip2-")
        trace = os.path.join(tracefs.root(), "instances", f"pybpf-ip2-{os.getpid()}")
        bpffs.mount(mnt, "bpf", "bpf")
        try:
            os.mkdir(trace)
            try:
                with open(os.path.join(trace, "events", "bpf_trace", "bpf_trace_printk",
                                       "enable"), "w") as f:
                    f.write("1")
                yield Lab(mnt, trace)
            finally:
                os.rmdir(trace)
        finally:
            subprocess.run(["umount", mnt], check=True)
            os.rmdir(mnt)


@pytest.fixture
def fresh(lab):
    """No filters, links or pins left from the test before; an empty trace."""
    lab.clear_trace()
    yield lab
    subprocess.run(["tc", "qdisc", "del", "dev", "va", "clsact"], capture_output=True)
    subprocess.run(["tc", "qdisc", "del", "dev", "vb", "clsact"], capture_output=True)
    for name in os.listdir(lab.mnt):               # pins and dirs; the mount's own files stay
        p = os.path.join(lab.mnt, name)
        if os.path.islink(p):                       # tc's "ip" and "xdp" -> "tc"
            os.unlink(p)
        elif os.path.isdir(p):
            shutil.rmtree(p)


def _u32(m, key: int) -> int:
    return int.from_bytes(m.lookup_raw(key), "little")


def _values(lines: list[str], prefix: str) -> list[int]:
    return sorted(int(ln[len(prefix):].split()[0]) for ln in lines if ln.startswith(prefix))


@pytest.mark.kernel
def test_legacy_shared_map_is_pinned_per_object_and_shared_by_two_loads(fresh, objects):
    data = objects["legacy/bpf_shared.c"]
    load = dict(pin_root=fresh.root, name="bpf_shared")
    with pybpf.load(data, programs=["emain"], sections={"emain": "tc"}, **load) as eg, \
            pybpf.load(data, programs=["imain"], sections={"imain": "tc"}, **load) as ig:
        # tc's place for a PIN_OBJECT_NS map: a directory named by the object's SHA-1
        d = os.path.join(fresh.root, hashlib.sha1(data).hexdigest())
        assert os.listdir(d) == ["map_sh"] and os.stat(d).st_mode & 0o777 == 0o700
        assert eg.maps["map_sh"].id == ig.maps["map_sh"].id
        eg.programs["emain"].attach_tc("va", "egress")
        ig.programs["imain"].attach_tc("vb", "ingress")
        fresh.send()
        assert _u32(ig.maps["map_sh"], 0) == N
        # the ingress side read what the egress side counted, frame by frame
        assert _values(fresh.printed(N, "map val: "), "map val: ") == list(range(1, N + 1))


@pytest.mark.kernel
def test_legacy_tail_call_chain_is_placed_and_reached(fresh, objects):
    data = objects["legacy/bpf_tailcall.c"]
    with pybpf.load(data, pin_root=fresh.root, name="bpf_tailcall") as obj:
        ids = {n: p.info().id for n, p in obj.programs.items()}
        jmp_tc, jmp_ex = obj.maps["jmp_tc"], obj.maps["jmp_ex"]
        assert (_u32(jmp_tc, 0), _u32(jmp_tc, 1), _u32(jmp_ex, 0)) == \
            (ids["cls_case1"], ids["cls_case2"], ids["cls_exit"])
        uid = hashlib.sha1(data).hexdigest()
        assert sorted(os.listdir(os.path.join(fresh.root, uid))) == ["jmp_ex", "jmp_tc",
                                                                      "map_sh"]
        obj.programs["cls_entry"].attach_tc("va", "egress")
        fresh.send()
        lines = fresh.printed(N, "case1: map-val: ") + fresh.printed(N, "exit: map-val: ")
        # entry -> jmp_tc[hash & 1]: case1, or case2 -> jmp_tc[0] (case1); case1 sets
        # cb[0] = 0 -> jmp_ex[0] (exit); none fell through
        assert _values(lines, "case1: map-val: ") == list(range(1, N + 1))
        assert _values(lines, "exit: map-val: ") == list(range(1, N + 1))
        assert all(ln.endswith("from:0") for ln in lines if ln.startswith("exit"))
        assert not fresh.printed(0, "fallthrough") and _u32(obj.maps["map_sh"], 0) == N
        # a second load (replayed from the plan the first recorded) finds the same pins,
        # and puts its own programs in the shared arrays, as a second tc invocation does
        with pybpf.load(data, pin_root=fresh.root, name="bpf_tailcall") as again:
            assert again.maps["jmp_tc"].id == jmp_tc.id and _u32(again.maps["map_sh"], 0) == N
            assert _u32(jmp_tc, 1) == again.programs["cls_case2"].info().id


@pytest.mark.kernel
def test_legacy_cyclic_tail_calls_run_to_the_kernel_limit(fresh, objects):
    with pybpf.load(objects["legacy/bpf_cyclic.c"], pin_root=fresh.root) as obj:
        obj.programs["cls_entry"].attach_tc("va", "egress")
        before = fresh.rx()
        fresh.send(1)
        # 33 tail calls (MAX_TAIL_CALL_CNT): cls_loop ran 33 times, then returned
        # TC_ACT_OK; had the entry's tail call missed, TC_ACT_SHOT would drop the frame
        assert _values(fresh.printed(33, "cb: "), "cb: ") == list(range(33))
        for _ in range(40):
            if fresh.rx() > before:
                break
            time.sleep(0.05)
        assert fresh.rx() - before == 1


@pytest.mark.kernel
def test_legacy_map_in_map_fills_the_outer_map_with_its_inner(fresh, objects):
    data = objects["legacy/bpf_map_in_map.c"]
    spec = pybpf.ObjectSpec.from_bytes(data, name="bpf_map_in_map")
    with pybpf.load(spec, pin_root=fresh.root, sections=I.tc_sections(spec)) as obj:
        assert sorted(os.listdir(fresh.root)) == ["map_inner", "map_outer"]
        outer, inner = obj.maps["map_outer"], obj.maps["map_inner"]
        assert _u32(outer, 0) == inner.id
        obj.programs["emain"].attach_tc("va", "egress")
        obj.programs["imain"].attach_tc("vb", "ingress")
        fresh.send()
        assert _u32(inner, 0) == N
        assert _values(fresh.printed(N, "map val: "), "map val: ") == list(range(1, N + 1))


@pytest.mark.kernel
@pytest.mark.parametrize("example", ["bpf_graft.c", "legacy/bpf_graft.c"])
def test_graft_replaces_the_tail_call_at_run_time(fresh, objects, example, tmp_path):
    """The entry loaded by tc (BTF example; Debian's tc cannot load legacy maps) or by
    pybpf, the grafted sections by pybpf, sharing jmp_tc through tc's global pin."""
    data = objects[example]
    path = str(tmp_path / "graft.o")
    with open(path, "wb") as f:
        f.write(data)
    load = dict(pin_root=fresh.tc_globals, name="bpf_graft")
    entry = None
    if example == "bpf_graft.c":
        fresh.tc("qdisc", "add", "dev", "va", "clsact")
        fresh.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj", path,
                 "sec", "classifier")
        assert os.listdir(fresh.tc_globals) == ["jmp_tc"]
    else:
        os.makedirs(fresh.tc_globals)
        entry = pybpf.load(data, programs=["cls_entry"], **load)
        entry.programs["cls_entry"].attach_tc("va", "egress")
    try:
        with pybpf.load(data, programs=["cls_aaa", "cls_bbb"],
                        sections={"cls_aaa": "tc", "cls_bbb": "tc"}, **load) as g:
            jmp = g.maps["jmp_tc"]
            assert jmp.lookup_raw(0) is None           # started out empty, as the example
            fresh.send()
            assert len(fresh.printed(N, "fallthrough")) == N
            for sec in ("aaa", "bbb"):                 # tc exec bpf graft m:globals/jmp_tc
                jmp.update(0, struct.pack("<I", g.programs[f"cls_{sec}"].fileno()))
                fresh.send()
                assert [ln for ln in fresh.printed(N, sec) if ln == sec] == [sec] * N
    finally:
        if entry is not None:
            entry.close()


def _shape(m) -> tuple:
    i = m.info()
    return (i.type, i.key_size, i.value_size, i.max_entries, i.flags)


@pytest.mark.kernel
@pytest.mark.parametrize("example,sec,prog", [("bpf_shared.c", "egress", "emain"),
                                              ("bpf_map_in_map.c", "egress", "emain"),
                                              ("bpf_graft.c", "classifier", "cls_entry")])
def test_tc_and_pybpf_pin_the_same_maps_of_the_same_shape(fresh, objects, tmp_path,
                                                          example, sec, prog):
    path = str(tmp_path / "x.o")
    with open(path, "wb") as f:
        f.write(objects[example])
    fresh.tc("qdisc", "add", "dev", "va", "clsact")
    fresh.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj", path, "sec", sec)
    theirs = {n: pybpf.Map.from_pin(os.path.join(fresh.tc_globals, n))
              for n in os.listdir(fresh.tc_globals)}
    try:
        with pybpf.load(objects[example], programs=[prog], sections={prog: "tc"},
                        pin_root=fresh.root) as obj:
            assert sorted(os.listdir(fresh.root)) == sorted(theirs)
            for n, m in theirs.items():
                assert _shape(obj.maps[n]) == _shape(m) and obj.maps[n].id != m.id
            if "map_outer" in theirs:     # each filled its outer map with its inner map
                tc_inner = pybpf.Map.from_id(_u32(theirs["map_outer"], 0))
                with tc_inner:
                    assert _shape(tc_inner) == _shape(obj.maps["map_inner"])
                assert _u32(obj.maps["map_outer"], 0) == obj.maps["map_inner"].id
    finally:
        for m in theirs.values():
            m.close()


@pytest.mark.kernel
def test_tc_and_pybpf_share_btf_maps_through_tc_globals(fresh, objects, tmp_path):
    """bpf_shared.c: tc loads the egress side, pybpf the ingress side onto tc's pin;
    bpf_map_in_map.c the other way round: tc's egress reuses pybpf's pinned outer map
    and counts into pybpf's inner map."""
    path = str(tmp_path / "shared.o")
    with open(path, "wb") as f:
        f.write(objects["bpf_shared.c"])
    fresh.tc("qdisc", "add", "dev", "va", "clsact")
    fresh.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj", path, "sec",
             "egress")
    assert os.listdir(fresh.tc_globals) == ["map_sh"]
    with pybpf.load(objects["bpf_shared.c"], programs=["imain"],
                    sections={"imain": "tc"}, pin_root=fresh.tc_globals) as ig:
        ig.programs["imain"].attach_tc("vb", "ingress")
        fresh.send()
        assert _u32(ig.maps["map_sh"], 0) == N                    # counted by tc's program
        assert _values(fresh.printed(N, "map val: "), "map val: ") == list(range(1, N + 1))
    fresh.tc("filter", "del", "dev", "va", "egress")
    os.unlink(os.path.join(fresh.tc_globals, "map_sh"))
    fresh.clear_trace()

    path = str(tmp_path / "mim.o")
    with open(path, "wb") as f:
        f.write(objects["bpf_map_in_map.c"])
    with pybpf.load(objects["bpf_map_in_map.c"], programs=["imain"],
                    sections={"imain": "tc"}, pin_root=fresh.tc_globals) as ig:
        assert os.listdir(fresh.tc_globals) == ["map_outer"]
        fresh.tc("filter", "add", "dev", "va", "egress", "bpf", "da", "obj", path, "sec",
                 "egress")
        ig.programs["imain"].attach_tc("vb", "ingress")
        fresh.send()
        assert _u32(ig.maps["map_inner"], 0) == N                 # tc's program, our inner map
        assert _values(fresh.printed(N, "map val: "), "map val: ") == list(range(1, N + 1))


KV_PAIR = """#include "bpf_api.h"
struct val { uint32_t packets; uint32_t bytes; };
struct bpf_elf_map __section_maps counts = {
	.type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 8, .max_elem = 1,
};
BPF_ANNOTATE_KV_PAIR(counts, uint32_t, struct val);
struct bpf_elf_map __section_maps odd = {
	.type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 4, .max_elem = 1,
};
BPF_ANNOTATE_KV_PAIR(odd, uint32_t, struct val);	/* 8 bytes for 4: ignored, as tc does */
__section_cls_entry int count(struct __sk_buff *skb)
{
	int k = 0;
	struct val *v = map_lookup_elem(&counts, &k);
	uint32_t *o = map_lookup_elem(&odd, &k);

	if (v) {
		lock_xadd(&v->packets, 1);
		lock_xadd(&v->bytes, skb->len);
	}
	return o ? TC_ACT_OK : TC_ACT_SHOT;
}
BPF_LICENSE("GPL");
"""


@pytest.mark.kernel
def test_kv_annotation_gives_a_legacy_map_its_btf_types(fresh):
    data = pybpf.compile(KV_PAIR, cflags=CFLAGS, includes=[INCLUDE])
    spec = pybpf.ObjectSpec.from_bytes(data)
    counts, odd = spec.maps["counts"], spec.maps["odd"]
    assert spec.btf[counts.value_type_id].name == "val" and counts.key_type_id
    assert (odd.key_type_id, odd.value_type_id) == (0, 0)
    with pybpf.load(data, name="kv") as obj:
        assert obj.maps["counts"].info().btf_id and not obj.maps["odd"].info().btf_id
        obj.programs["count"].attach_tc("va", "egress")
        fresh.send()
        v = obj.typed_map("counts")[0]
        assert (v.packets, v.bytes) == (N, N * 60)


@pytest.mark.kernel
def test_pinned_map_of_another_shape_is_refused_in_one_line(fresh, objects):
    data = objects["legacy/bpf_map_in_map.c"]
    spec = pybpf.ObjectSpec.from_bytes(data)
    with pybpf.load(data, pin_root=fresh.root, sections=I.tc_sections(spec)):
        for p in spec.programs.values():
            p.autoload = False
        spec.maps["map_inner"].max_entries = 2
        spec.maps["map_inner"].value_size = 8
        with pytest.raises(errors.PinnedMapError) as ei:
            pybpf.load(spec, pin_root=fresh.root)
        assert str(ei.value) == (
            f"map 'map_inner': the map pinned at {fresh.root}/map_inner has another shape: "
            "value_size 8 (object) != 4 (pin), max_entries 2 (object) != 1 (pin) "
            "(unpin it, or pin elsewhere)")


@pytest.mark.kernel
def test_program_of_another_type_on_a_shared_prog_array_says_why(fresh, objects):
    data = objects["legacy/bpf_tailcall.c"]
    with pybpf.load(data, pin_root=fresh.root, name="bpf_tailcall") as obj:
        secs = {n: "action" for n in obj.programs}          # tc ... action: SCHED_ACT
        with pytest.raises(errors.KernelError) as ei:
            pybpf.load(data, pin_root=fresh.root, name="bpf_tailcall", sections=secs)
        ids = {obj.maps["jmp_tc"].id, obj.maps["jmp_ex"].id}
        msg = str(ei.value)
        assert "\n" not in msg and "(sched_act," in msg and any(
            f"uses program array id {i}, which holds sched_cls programs" in msg for i in ids)
