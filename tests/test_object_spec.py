"""pybpf.object.spec: ObjectSpec from the corpus of libbpf-style objects (no root needed)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf._sys.uapi import AttachType as A
from pybpf._sys.uapi import MapFlag as F
from pybpf._sys.uapi import MapType as M
from pybpf._sys.uapi import ProgType as P
from pybpf.errors import BTFError, ELFError
from tests.corpus import build

pytestmark = pytest.mark.skipif(build.why_not() is not None, reason=str(build.why_not()))

from pybpf.object import ObjectSpec, RelocKind as K  # noqa: E402


@pytest.fixture(scope="module")
def objs(corpus_objs):
    return corpus_objs


@pytest.fixture(scope="module")
def blobs(objs):
    return {k: p.read_bytes() for k, p in objs.items()}


@pytest.fixture
def spec(objs, request):
    return ObjectSpec.from_file(objs[request.param])


def load(objs, name):
    return ObjectSpec.from_file(objs[name])


def relocs(p):
    return [(r.offset, r.kind, r.target, r.addend) for r in p.relocations]


def test_whole_corpus_parses(objs):
    for name, path in objs.items():
        s = ObjectSpec.from_file(path)
        assert s.name == name and s.license and s.programs, name
        for p in s.functions().values():
            assert len(p.instructions) % 8 == 0 and p.instructions
            for r in p.relocations:
                assert 0 <= r.offset < len(p.instructions) and r.offset % 8 == 0
                if r.kind in (K.MAP, K.DATA, K.KCONFIG):
                    assert r.target in s.maps
                elif r.kind in (K.CALL, K.FUNC_ADDR):
                    assert r.target in s.functions()
                else:
                    assert r.target in s.externs


def test_tracepoint(objs):
    s = load(objs, "tracepoint")
    assert (s.license, s.kern_version) == ("GPL", 0)
    assert sorted(s.programs) == ["handle_execve", "handle_exit"]
    assert sorted(s.subprograms) == ["global_helper", "mix"]
    p = s.programs["handle_execve"]
    assert (p.section, p.type, p.expected_attach_type) == (
        "tracepoint/syscalls/sys_enter_execve", P.TRACEPOINT, None)
    assert p.sec_info.target.category == "syscalls" and p.license == "GPL"
    mix, helper = s.subprograms["mix"], s.subprograms["global_helper"]
    assert not mix.global_binding and helper.global_binding and mix.subprogram
    assert mix.section == ".text" and mix.section_offset == 24
    assert relocs(p) == [
        (24, K.DATA, ".rodata", 0),          # target_pid
        (72, K.MAP, "events", 0),
        (136, K.DATA, ".bss", 0),            # drops
        (176, K.CALL, "mix", 24),            # static: relocation against the .text section
        (192, K.DATA, ".data", 8),           # ready
        (216, K.CALL, "global_helper", 0),
        (264, K.DATA, ".rodata", 4),         # verbose
        (296, K.DATA, ".rodata", 5),         # the bpf_printk format string
        (352, K.DATA, ".bss", 8),            # seen[]
        (392, K.DATA, ".data", 0),           # hits
    ]
    # a call inside .text to a static function carries no ELF relocation: synthesized
    assert relocs(helper) == [(0, K.CALL, "mix", 24)]
    assert helper.relocations[0].symbol == ""
    ev = s.maps["events"]
    assert (ev.type, ev.key_size, ev.value_size, ev.max_entries, ev.flags) == (
        M.RINGBUF, 0, 0, 256 * 1024, 0)


def test_globals(objs):
    s = load(objs, "tracepoint")
    ro, data, bss = s.maps[".rodata"], s.maps[".data"], s.maps[".bss"]
    assert (ro.type, ro.key_size, ro.value_size, ro.max_entries) == (M.ARRAY, 4, 13, 1)
    assert ro.flags == F.RDONLY_PROG | F.MMAPABLE and data.flags == F.MMAPABLE
    assert (ro.kernel_name, data.kernel_name, bss.kernel_name) == (
        "tracepoi.rodata", "tracepoi.data", "tracepoi.bss")
    assert {n: (v.offset, v.size, v.static) for n, v in ro.variables.items()} == {
        "target_pid": (0, 4, False), "verbose": (4, 1, False),
        "handle_execve.____fmt": (5, 8, True)}
    assert {n: (v.offset, v.size) for n, v in data.variables.items()} == {
        "hits": (0, 8), "ready": (8, 4)}
    assert {n: (v.offset, v.size) for n, v in bss.variables.items()} == {
        "drops": (0, 8), "seen": (8, 16)}
    assert bytes(bss.data) == bytes(24) and bss.value_size == 24
    assert s.globals["hits"].value == 7 and s.globals["ready"].value == -3
    assert s.globals["verbose"].value == 1 and s.globals["verbose"].kind == "bool"
    assert ro.get_var("handle_execve.____fmt") == b"exec %d\0"
    # changeable before load, by name, through the map or the object
    ro.set_var("target_pid", 1234)
    s.set_global("verbose", False)
    s.globals["ready"].value = -1
    data.set_var("hits", b"\x01")
    assert ro.data[:5] == struct.pack("<I", 1234) + b"\0"
    assert s.globals["ready"].get() == b"\xff" * 4
    assert data.get_var("hits") == b"\x01" + bytes(7)
    with pytest.raises(ValueError):
        ro.set_var("target_pid", 1 << 40)
    with pytest.raises(ValueError):
        ro.set_var("target_pid", b"12345")
    with pytest.raises(TypeError):
        ro.set_var("target_pid", object())
    with pytest.raises(KeyError, match="target_pid"):
        ro.set_var("nope", 1)
    with pytest.raises(KeyError):
        s.set_global("nope", 1)


def test_globals_are_per_spec(objs):
    a, b = load(objs, "tracepoint"), load(objs, "tracepoint")
    a.set_global("hits", 99)
    assert b.globals["hits"].value == 7


def test_rawtp_core(objs):
    s = load(objs, "rawtp")
    assert {n: (p.type, p.expected_attach_type) for n, p in s.programs.items()} == {
        "on_switch": (P.RAW_TRACEPOINT, None),
        "on_wakeup": (P.TRACING, A.TRACE_RAW_TP),
        "on_writable": (P.RAW_TRACEPOINT_WRITABLE, None)}
    assert s.programs["on_wakeup"].sec_info.btf_target() == (
        "btf_trace_sched_wakeup", "typedef", "")
    m = s.maps["start"]
    assert (m.type, m.key_size, m.value_size, m.max_entries, m.flags) == (
        M.HASH, 4, 8, 1024, F.NO_PREALLOC)
    assert s.btf[m.key_type_id].name in ("__u32", "u32")
    assert s.btf_ext is not None       # CO-RE relocations live in .BTF.ext


def test_kprobe(objs):
    s = load(objs, "kprobe")
    assert s.kern_version == 0x60C00
    assert s.programs["unlink_entry"].kern_version == 0x60C00
    assert s.programs["probe_offset"].sec_info.target.offset == 8
    assert s.programs["multi_entry"].expected_attach_type == A.TRACE_KPROBE_MULTI
    po = s.maps["perf_out"]
    assert (po.type, po.key_size, po.value_size, po.max_entries) == (
        M.PERF_EVENT_ARRAY, 4, 4, 0)
    c = s.maps["counts"]
    assert (c.type, c.key_size, c.value_size, c.max_entries, c.pinning) == (
        M.PERCPU_HASH, 8, 16, 64, 1)
    assert relocs(s.programs["unlink_entry"]) == [(48, K.MAP, "perf_out", 0)]


def test_uprobe_strings(objs):
    s = load(objs, "uprobe")
    assert s.license == "Dual BSD/GPL"
    t = s.programs["on_malloc"].sec_info
    assert t.sleepable and (t.target.path, t.target.name, t.target.offset) == (
        "/usr/lib/libc.so.6", "malloc", 16)
    strs = s.maps[".rodata.str1.1"]
    assert strs.kernel_name == ".rodata.str1.1" and strs.flags == F.RDONLY_PROG
    assert b"merged literal\0" in strs.data and b"other literal\0" in strs.data
    kinds = [(r.kind, r.target) for r in s.programs["on_readline"].relocations]
    assert (K.DATA, ".rodata.str1.1") in kinds and (K.DATA, ".bss") in kinds
    # static variables: no MMAPABLE for a section holding only statics
    assert s.maps[".rodata"].flags == F.RDONLY_PROG
    assert s.maps[".rodata"].get_var("fmt_msg") == b"readline\0"


def test_xdp_map_in_map(objs):
    s = load(objs, "xdp")
    assert {n: (p.type, p.expected_attach_type, p.xdp_frags) for n, p in s.programs.items()} \
        == {"xdp_main": (P.XDP, A.XDP, False), "xdp_tail": (P.XDP, A.XDP, False),
            "xdp_frags_prog": (P.XDP, A.XDP, True), "xdp_dev": (P.XDP, A.XDP_DEVMAP, False),
            "xdp_cpu": (P.XDP, A.XDP_CPUMAP, False)}
    outer = s.maps["outer"]
    assert (outer.type, outer.key_size, outer.value_size, outer.max_entries) == (
        M.ARRAY_OF_MAPS, 4, 4, 8)
    assert outer.contents == {0: "inner_a", 3: "inner_b"}
    inner = outer.inner
    assert (inner.name, inner.type, inner.key_size, inner.value_size, inner.max_entries) == (
        "outer.inner", M.ARRAY, 4, 8, 4)
    oh = s.maps["outer_hash"]
    assert (oh.type, oh.key_size, oh.value_size, oh.contents) == (M.HASH_OF_MAPS, 4, 4, {})
    assert (oh.inner.type, oh.inner.key_size, oh.inner.value_size, oh.inner.max_entries) == (
        M.HASH, 4, 4, 16)
    jumps = s.maps["jumps"]
    assert (jumps.type, jumps.value_size, jumps.contents, jumps.inner) == (
        M.PROG_ARRAY, 4, {1: "xdp_tail"}, None)
    tx = s.maps["tx"]
    assert (tx.type, tx.key_size, tx.value_size) == (M.DEVMAP, 4, 8)
    assert relocs(s.programs["xdp_main"]) == [
        (40, K.MAP, "outer", 0), (112, K.MAP, "jumps", 0), (144, K.MAP, "tx", 0)]
    # editable before load
    outer.max_entries = 16
    outer.contents[5] = "inner_a"
    assert s.maps["outer"].max_entries == 16


def test_net(objs):
    s = load(objs, "net")
    got = {n: (p.type, p.expected_attach_type) for n, p in s.programs.items()}
    assert got == {
        "tc_prog": (P.SCHED_CLS, None), "tcx_in": (P.SCHED_CLS, A.TCX_INGRESS),
        "tcx_out": (P.SCHED_CLS, A.TCX_EGRESS), "cls": (P.SCHED_CLS, None),
        "sock_filter": (P.SOCKET_FILTER, None),
        "cg_in": (P.CGROUP_SKB, A.CGROUP_INET_INGRESS),
        "cg_out": (P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
        "cg_connect4": (P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT),
        "cg_sock_create": (P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
        "cg_sysctl": (P.CGROUP_SYSCTL, A.CGROUP_SYSCTL),
        "lookup": (P.SK_LOOKUP, A.SK_LOOKUP)}
    assert not s.subprograms      # __always_inline helpers leave no function behind


def test_perf_event_lsm_iter(objs):
    s = load(objs, "perf_event")
    assert s.programs["on_sample"].type == P.PERF_EVENT
    st_ = s.maps["stacks"]
    assert (st_.type, st_.key_size, st_.value_size, st_.max_entries) == (
        M.STACK_TRACE, 4, 127 * 8, 1024)
    smp = s.maps["samples"]
    assert (smp.type, smp.numa_node, smp.flags) == (M.PERCPU_ARRAY, 0, 0)

    s = load(objs, "lsm")
    assert {n: (p.expected_attach_type, p.sleepable) for n, p in s.programs.items()} == {
        "check_open": (A.LSM_MAC, False), "committed": (A.LSM_MAC, True),
        "cg_bind": (A.LSM_CGROUP, False)}
    o = s.maps["opens"]
    assert (o.type, o.key_size, o.value_size, o.max_entries, o.flags) == (
        M.TASK_STORAGE, 4, 8, 0, F.NO_PREALLOC)

    s = load(objs, "iter")
    p = s.programs["dump_task"]
    assert (p.type, p.expected_attach_type) == (P.TRACING, A.TRACE_ITER)
    assert p.sec_info.btf_target() == ("bpf_iter_task", "func", "")
    cnt = s.maps[".data.counters"]
    assert cnt.kernel_name == ".data.counters" and cnt.get_var("lines") == b"\x05\0\0\0"
    assert s.globals["lines"].section == ".data.counters"


def test_fentry_externs(objs):
    s = load(objs, "fentry")
    assert {n: (p.type, p.expected_attach_type, p.sleepable) for n, p in s.programs.items()} \
        == {"fe": (P.TRACING, A.TRACE_FENTRY, False), "fx": (P.TRACING, A.TRACE_FEXIT, False),
            "fm": (P.TRACING, A.MODIFY_RETURN, False), "fs": (P.TRACING, A.TRACE_FENTRY, True)}
    e = s.externs
    assert {n: (x.kind, x.weak, x.is_func, x.typeless) for n, x in e.items()} == {
        "LINUX_KERNEL_VERSION": ("kconfig", False, False, False),
        "CONFIG_BPF_SYSCALL": ("kconfig", False, False, False),
        "CONFIG_HZ": ("kconfig", True, False, False),
        "CONFIG_BPF_JIT": ("kconfig", True, False, False),
        "runqueues": ("ksym", False, False, False),
        "bpf_prog_active": ("ksym", True, False, True),
        "bpf_task_acquire": ("ksym", False, True, False),
        "bpf_task_release": ("ksym", False, True, False)}
    # .kconfig layout: alignment descending, size ascending, then name (as libbpf)
    assert {n: (x.offset, x.size, x.kcfg_type) for n, x in e.items() if x.kind == "kconfig"} \
        == {"CONFIG_BPF_JIT": (0, 4, "tristate"), "CONFIG_HZ": (4, 4, "int"),
            "LINUX_KERNEL_VERSION": (8, 4, "int"), "CONFIG_BPF_SYSCALL": (12, 1, "bool")}
    assert s.btf[e["runqueues"].type_id].name == "rq" and e["runqueues"].size > 0
    kc = s.maps[".kconfig"]
    assert (kc.type, kc.value_size, kc.flags, kc.kernel_name) == (
        M.ARRAY, 13, F.RDONLY_PROG | F.MMAPABLE, "fentry.kconfig")
    kc.set_var("CONFIG_HZ", 250)
    assert kc.data[4:8] == struct.pack("<I", 250)
    fe = s.programs["fe"]
    assert relocs(fe) == [
        (16, K.KFUNC, "bpf_task_acquire", 0), (40, K.KFUNC, "bpf_task_release", 0),
        (48, K.KCONFIG, ".kconfig", 8), (104, K.KCONFIG, ".kconfig", 12),
        (136, K.KCONFIG, ".kconfig", 4), (160, K.KCONFIG, ".kconfig", 0),
        (208, K.DATA, ".bss", 0), (232, K.KSYM, "bpf_prog_active", 0),
        (248, K.KSYM, "runqueues", 0), (272, K.DATA, ".bss", 0),
        (320, K.FUNC_ADDR, "loop_cb", 0)]
    assert "loop_cb" in s.subprograms


def test_datasec_fixup(objs):
    s = load(objs, "tracepoint")
    from pybpf.object.globaldata import find_datasec
    btf = s.btf
    ds = find_datasec(btf, ".rodata")
    assert ds is not None and ds.size == 13
    assert {btf[v.type].name: v.offset for v in ds.vars} == {
        "target_pid": 0, "verbose": 4, "handle_execve.____fmt": 5}


def test_legacy_maps(objs):
    s = load(objs, "legacy")
    assert {n: (m.type, m.key_size, m.value_size, m.max_entries, m.flags, m.section)
            for n, m in s.maps.items()} == {
        "old_hash": (M.HASH, 4, 8, 32, 0, "maps"),
        "old_array": (M.ARRAY, 4, 4, 2, F.MMAPABLE, "maps")}
    assert relocs(s.programs["legacy_prog"]) == [
        (32, K.MAP, "old_hash", 0), (72, K.MAP, "old_array", 0)]


def test_programs_changeable(objs):
    s = load(objs, "kprobe")
    p = s.programs["unlink_entry"]
    p.type, p.autoload = P.TRACING, False
    p.instructions = p.instructions[:8]
    assert s.programs["unlink_entry"].insn_count == 1


def test_bad_objects(blobs):
    with pytest.raises(ELFError, match="EM_BPF"):
        data = bytearray(blobs["net"])
        data[18:20] = (62).to_bytes(2, "little")
        ObjectSpec.from_bytes(bytes(data))
    with pytest.raises(ELFError):
        ObjectSpec.from_bytes(b"")
    with pytest.raises(ELFError):
        ObjectSpec.from_bytes(blobs["net"][:200])
    with pytest.raises(ELFError, match="ET_REL"):
        data = bytearray(blobs["net"])
        data[16:18] = (2).to_bytes(2, "little")
        ObjectSpec.from_bytes(bytes(data))


def _hot_ranges(blob: bytes) -> list[tuple[int, int]]:
    """Byte ranges whose corruption matters: headers, symbols, relocations, BTF, maps, code."""
    from pybpf import elf as E
    f = E.ELFFile(blob)
    shoff = int.from_bytes(blob[40:48], "little")
    out = [(0, 64), (shoff, len(blob))]
    for sec in f.sections:
        if sec.type in (E.SHT_SYMTAB, E.SHT_REL) and not sec.name.startswith(".rel.debug") \
                or sec.name in (".BTF", ".maps", "maps", "license", ".rodata", ".data") \
                or sec.flags & E.SHF_EXECINSTR:
            if sec.size and sec.type != E.SHT_NOBITS:
                out.append((sec.offset, sec.offset + sec.size))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fuzz_spec(blobs, data):
    name = data.draw(st.sampled_from(["tracepoint", "xdp", "legacy", "kprobe", "uprobe",
                                      "fentry"]))
    base = bytearray(blobs[name])
    ranges = _hot_ranges(blobs[name])
    for _ in range(data.draw(st.integers(1, 6))):
        lo, hi = data.draw(st.sampled_from(ranges))
        pos = data.draw(st.integers(lo, hi - 1))
        base[pos] = data.draw(st.sampled_from([0, 1, 0xFF, 0x7F, 0x80, base[pos] ^ 1,
                                               data.draw(st.integers(0, 255))]))
    try:
        ObjectSpec.from_bytes(bytes(base))
    except (ELFError, BTFError):
        pass


def test_inner_map_type_known_only_by_declaration_is_a_clear_error():
    """clang emits a forward declaration for a key type used only by an inner map's
    definition: its size is unknown, and saying so beats the kernel's EINVAL."""
    import pybpf
    src = r'''
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct k { __u32 prefixlen; __u8 a[8]; };
struct inner { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(map_flags, 1);
               __uint(max_entries, 16); __type(key, struct k); __type(value, __u64); };
struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1);
         __type(key, __u32); __array(values, struct inner); } outer SEC(".maps");
SEC("xdp") int f(struct xdp_md *c) { return 2; }
char L[] SEC("license") = "GPL";
'''
    with pytest.raises(ELFError, match=r"map 'outer.inner'.key: the type is only declared"):
        pybpf.ObjectSpec.from_bytes(pybpf.compile(src))
