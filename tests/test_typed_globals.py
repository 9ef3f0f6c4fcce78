"""Typed global variables: obj.bss / obj.data / obj.rodata, load(variables=...) and
MapSpec.set_var checked against BTF types, on the full load path and a plan replay."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

import pybpf
from pybpf import errors
from pybpf.typedvalue import FitError

SRC = Path(__file__).parent / "data" / "typed_globals.bpf.c"


@pytest.fixture(scope="module")
def obj_bytes():
    return pybpf.compile(SRC)


# ---- pure: spec-level set_var/get_var -------------------------------------------------

def test_set_var_checks_types_before_load(obj_bytes):
    spec = pybpf.ObjectSpec.from_bytes(obj_bytes, name="pt_typed")
    ro = spec.maps[".rodata"]
    ro.set_var("min_duration_ns", 1500)
    assert ro.variables["min_duration_ns"].value == 1500
    with pytest.raises(TypeError, match="expected an int, got float 1.5"):
        ro.set_var("min_duration_ns", 1.5)
    with pytest.raises(OverflowError):
        ro.set_var("min_duration_ns", -1)
    with pytest.raises(OverflowError):
        ro.set_var("delta", 40000)
    ro.set_var("delta", -300)
    assert ro.variables["delta"].value == -300
    ro.set_var("verbose", True)
    assert ro.variables["verbose"].value is True
    with pytest.raises(TypeError):
        ro.set_var("verbose", "yes")
    ro.set_var("prefix", "abc")
    assert ro.variables["prefix"].value == "abc"
    with pytest.raises(FitError):          # 8 bytes leave no room for the NUL
        ro.set_var("prefix", "abcdefgh")
    with pytest.raises(ValueError):        # FitError is a ValueError too
        ro.set_var("prefix", "abcdefgh")
    with pytest.raises(TypeError):
        ro.set_var("prefix", 5)
    ro.set_var("scale", 2.5)
    assert ro.variables["scale"].value == 2.5
    with pytest.raises(TypeError):
        ro.set_var("scale", "2.5")
    ro.set_var("tunables", {"limit": 9, "port": 80, "hi": 31, "label": "ab"})
    c = ro.variables["tunables"].value
    assert (c.limit, c.port, c.raw, c.hi, c.lo, c.label) == (9, 80, 80, 31, 0, b"ab")
    with pytest.raises(OverflowError):
        ro.set_var("tunables", {"hi": 32})       # a 5-bit field
    with pytest.raises(TypeError, match="no member"):
        ro.set_var("tunables", {"nope": 1})


def test_struct_type_matches_btf_layout(obj_bytes):
    spec = pybpf.ObjectSpec.from_bytes(obj_bytes, name="pt_typed")
    var = spec.maps[".rodata"].variables["tunables"]
    ct = type(var.value)
    assert ctypes.sizeof(ct) == var.size
    assert ct.limit.offset == 4 and ct.port.offset == 8 and ct.label.offset == 11  # right after the bitfield byte


# ---- kernel ---------------------------------------------------------------------------

def _run(obj):
    obj.bss.my_pid = os.getpid()
    obj.attach()
    for _ in range(3):
        os.getppid()


@pytest.mark.kernel
@pytest.mark.parametrize("replay", [False, True])
def test_typed_sections_after_load(obj_bytes, replay, monkeypatch):
    if not replay:
        monkeypatch.setenv("PYBPF_NO_PLAN", "1")
    variables = {"min_duration_ns": 2_000_000, "verbose": True, "delta": -7,
                 "tunables": {"limit": 77, "port": 8080, "hi": 5}}
    for i in range(2 if replay else 1):        # the second load replays the plan
        with pybpf.load(obj_bytes, name="pt_typed", variables=variables) as obj:
            assert (obj._plan is not None) == (replay and i == 1) or i == 0
            _run(obj)
            assert obj.bss.hits == 3
            assert obj.data.counter == 10
            assert obj.bss.seen_min == 2_000_000 == obj.rodata.min_duration_ns
            assert obj.bss.last_delta == -7
            assert obj.bss.cfg_limit == 77 and obj.bss.cfg_port == 8080
            assert obj.bss.cfg_hi == 5 and obj.bss.ports == (8080, 0, 0)
            assert obj.bss.last_comm == "python" or obj.bss.last_comm.startswith("py")
            assert obj.rodata.prefix == "pt" and obj.rodata.verbose is True
            assert obj.data.ratio == 0.5
            obj.data.ratio = 0.25
            assert obj.data.ratio == 0.25
            obj.data.counter = 100
            os.getppid()
            assert obj.data.counter == 101 and obj.bss.hits == 4
            with pytest.raises(AttributeError, match="read-only once loaded") as ei:
                obj.rodata.min_duration_ns = 5
            assert isinstance(ei.value, errors.ReadOnlyError)   # one line in the CLI
            with pytest.raises(TypeError):
                obj.bss.my_pid = 1.5
            with pytest.raises(OverflowError):
                obj.bss.my_pid = 1 << 32
            with pytest.raises(AttributeError, match="known"):
                obj.bss.nope
            assert "hits" in dir(obj.bss)
            cfgs = obj.typed_map("cfgs")
            (k, v), = list(cfgs.items())
            assert k == os.getpid() and (v.limit, v.port, v.hi) == (77, 8080, 5)
            assert cfgs[os.getpid()].limit == 77
            assert obj.maps["cfgs"][os.getpid()] == bytes(v)      # the raw view is unchanged
            # writes are checked as globals are: a dict for a struct, ints in range
            cfgs[1] = {"limit": 5, "port": 9, "hi": 3}
            assert (cfgs[1].limit, cfgs[1].port, cfgs[1].hi) == (5, 9, 3)
            cfgs[2] = cfgs[1]
            assert bytes(cfgs[2]) == bytes(cfgs[1])
            with pytest.raises(TypeError, match="cfgs value: expected a dict"):
                cfgs[3] = 1.5
            with pytest.raises(TypeError, match=r"cfgs value\.port: expected an int"):
                cfgs[3] = {"port": "http"}
            with pytest.raises(OverflowError, match="cfgs key: -1 is out of range"):
                cfgs[-1] = {"limit": 1}
            assert sorted(k for k, _ in cfgs.items()) == sorted([1, 2, os.getpid()])


@pytest.mark.kernel
def test_variables_are_checked_on_both_paths(obj_bytes):
    for _ in range(2):
        with pytest.raises(TypeError, match="min_duration_ns: expected an int"):
            pybpf.load(obj_bytes, name="pt_typed", variables={"min_duration_ns": 1.5})
        with pytest.raises(OverflowError, match="prefix"):
            pybpf.load(obj_bytes, name="pt_typed", variables={"prefix": "x" * 8})
        with pybpf.load(obj_bytes, name="pt_typed") as obj:   # records or replays a plan
            assert obj.rodata.min_duration_ns == 0


@pytest.mark.kernel
def test_a_replay_reads_integers_as_the_codec_does(obj_bytes):
    """A replayed object reads C integers and bools from the plan's type table, without
    the type model: the same value as the Codec for every such global, and the Codec
    still decodes every other kind."""
    from pybpf.object import globalview
    variables = {"min_duration_ns": 2_000_000, "verbose": True, "delta": -7}
    for _ in range(2):                              # record the plan, then replay it
        with pybpf.load(obj_bytes, name="pt_typed_fast", variables=variables) as obj:
            replayed = obj._plan is not None
            _run(obj)
            if not replayed:
                continue
            types = obj._plan["types"]
            kinds = set()
            for name, (section, offset, size, signed, tid) in obj._globals.items():
                if not tid or section == ".kconfig":
                    continue
                raw = bytes(obj.maps[section].lookup_raw(b"\0\0\0\0"))[offset:offset + size]
                fast = globalview._plain_int(types, tid, raw)
                slow = globalview.codec(obj).decode(tid, raw)
                if fast is not None:
                    assert (type(fast), fast) == (type(slow), slow), name
                    kinds.add("bool" if type(fast) is bool else
                              "signed" if fast < 0 else "int")
                got = getattr(getattr(obj, section.lstrip(".")), name)
                if isinstance(slow, (ctypes.Structure, ctypes.Union)):
                    got, slow = bytes(got), bytes(slow)       # ctypes: by their bytes
                assert got == slow, name
            assert kinds == {"bool", "signed", "int"}
    assert replayed


MAP_IN_MAP = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
               __type(key, __u32); __type(value, __u64); };
struct inner pt_in0 SEC(".maps"), pt_in1 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 2);
         __type(key, __u32); __array(values, struct inner); } pt_outer SEC(".maps") =
         { .values = { &pt_in0, &pt_in1 } };
int my_pid;
SEC("tracepoint/syscalls/sys_enter_getppid") int pt_mim(void *c)
{
    __u32 slot = 1, k = 0;
    if ((bpf_get_current_pid_tgid() >> 32) != my_pid) return 0;
    void *m = bpf_map_lookup_elem(&pt_outer, &slot);
    __u64 *v = m ? bpf_map_lookup_elem(m, &k) : 0;
    if (v) __sync_fetch_and_add(v, 1);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.kernel
def test_a_map_in_map_reads_back_its_inner_maps():
    """The kernel answers an outer map's lookup with the inner map's id: the typed view
    gives the object's own Map for it, and takes a Map to write."""
    with pybpf.load(pybpf.compile(MAP_IN_MAP), name="pt_mim") as obj:
        obj.bss.my_pid = os.getpid()
        obj.attach()
        outer = obj.typed_map("pt_outer")
        assert outer[0] is obj.maps["pt_in0"] and outer[1] is obj.maps["pt_in1"]
        os.getppid()
        outer[1] = obj.maps["pt_in0"]                  # slot 1 now holds pt_in0
        os.getppid()
        os.getppid()
        assert outer[1] is obj.maps["pt_in0"]
        assert obj.typed_map("pt_in1")[0] == 1 and obj.typed_map("pt_in0")[0] == 2
