"""CO-RE against other BTF than the running kernel's: ``kernel_btf=`` (a BTF standing for
vmlinux, as libbpf's btf_custom_path) and ``core_targets=`` (BTF searched after it, as
cilium/ebpf's ExtraRelocationTargets: Inspektor Gadget relocates its socket map's value
against a BTF its agent builds at run time).  A socket filter reads field ``b`` of a
``preserve_access_index`` struct the kernel lacks from a map value holding 0, 1, 2, ...
(one int each): its return value is the offset the relocation resolved to, / 4."""

from __future__ import annotations

import struct

import pytest

import pybpf
from pybpf import errors

PROG = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct pybpf_ct_value { int a; int b; } __attribute__((preserve_access_index));
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);
         __type(value, int[16]); } vals SEC(".maps");
SEC("socket") int reads_b(struct __sk_buff *skb)
{
    __u32 k = 0;
    struct pybpf_ct_value *v = bpf_map_lookup_elem(&vals, &k);
    return v ? v->b : -1;
}
char LICENSE[] SEC("license") = "GPL";
"""
# two layouts of the struct, as another object's BTF carries them
TARGET_AT_16 = "struct pybpf_ct_value { int pad[3]; int a; int b; } at16;\n"
TARGET_AT_0 = "struct pybpf_ct_value { int b; int a; } at0;\n"


def _btf(src: str):
    return pybpf.ObjectSpec.from_bytes(pybpf.compile(src)).btf


@pytest.fixture(scope="module")
def built():
    return pybpf.compile(PROG), _btf(TARGET_AT_16), _btf(TARGET_AT_0)


def _run(obj) -> int:
    obj.maps["vals"].update(0, struct.pack("<16i", *range(16)))
    ret = obj.programs["reads_b"].test_run(b"\0" * 64).retval
    return ret


@pytest.mark.kernel
def test_extra_targets_resolve_what_the_kernel_lacks(built):
    prog, at16, at0 = built
    with pybpf.load(prog, name="ct_extra16", core_targets=[at16]) as obj:
        assert _run(obj) == 4
    # the CO-RE fixes are cached per target: another layout is not served the first one's
    with pybpf.load(prog, name="ct_extra0", core_targets=[at0]) as obj:
        assert _run(obj) == 0
    with pytest.raises(errors.VerifierError, match="unresolved CO-RE relocation: byte_off "
                       "of struct pybpf_ct_value.b"):
        pybpf.load(prog, name="ct_none")


@pytest.mark.kernel
def test_a_kernel_btf_given_is_not_served_another_ones_cached_fixes(built):
    prog, at16, at0 = built
    with pybpf.load(prog, name="ct_k16", kernel_btf=at16) as obj:
        assert _run(obj) == 4
    with pybpf.load(prog, name="ct_k0", kernel_btf=at0) as obj:
        assert _run(obj) == 0


@pytest.mark.kernel
def test_targets_built_by_hand_are_told_apart(built):
    """Specs made with Spec.add() have no parsed bytes to hash: their fixes are keyed by
    their encoding, so two layouts built by hand get their own offsets."""
    from pybpf.btf import Spec
    from pybpf.btf import types as T
    prog = built[0]

    def layout(pad: int) -> Spec:
        s = Spec()
        i32 = s.add(T.Int("int", 4, encoding=1, bits=32))
        s.add(T.Struct("pybpf_ct_value", 8 + pad, [T.Member("a", i32, 0),
                                                   T.Member("b", i32, (4 + pad) * 8)]))
        return s
    with pybpf.load(prog, name="ct_hand8", core_targets=[layout(8)]) as obj:
        assert _run(obj) == 3
    with pybpf.load(prog, name="ct_hand4", core_targets=[layout(4)]) as obj:
        assert _run(obj) == 2


REPEATS = PROG.replace("return v ? v->b : -1;",
                       "if (!v) return -1;\n    if (skb->len > 100) return v->b + 1;\n"
                       "    if (skb->len > 50) return v->b + 2;\n    return v->b;")


@pytest.mark.kernel
def test_equal_relocations_are_resolved_once(built, monkeypatch):
    """An object's first load on a kernel resolves each distinct (type, access, kind) once
    however often the program repeats it (objects repeat them by the thousand);
    PYBPF_NO_CORE_CACHE=1 makes every load a first one (the benchmarks' first loads)."""
    from pybpf.object import core
    at16 = built[1]
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(REPEATS))
    relos = [r for rs in spec.btf_ext.core_relos.values() for r in rs]
    distinct = {(r.type_id, r.access, r.kind) for r in relos}   # v->b, and skb->len
    assert len(relos) >= 5 and len(distinct) == 2
    calls = []
    real = core.resolve
    monkeypatch.setattr(core, "resolve", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    monkeypatch.setenv("PYBPF_NO_CORE_CACHE", "1")
    for _ in range(2):
        with pybpf.load(spec, core_targets=[at16]) as obj:
            obj.maps["vals"].update(0, struct.pack("<16i", *range(16)))
            assert [obj.programs["reads_b"].test_run(b"\0" * n).retval
                    for n in (64, 80, 120)] == [4, 6, 5]
    assert len(calls) == 2 * len(distinct)
