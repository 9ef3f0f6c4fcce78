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


# -- libbpf's matching rules, seen through a kernel_btf holding the selftests' kinds of
# target (flavored types, zero-length arrays, inline enums, split flavors) -----------

def _reads(decl: str, expr: str) -> bytes:
    """A socket filter returning ``expr`` of a ``preserve_access_index`` struct read from
    a map value holding 0, 1, 2, ... (so a field's offset / 4)."""
    return pybpf.compile(f"""#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
{decl}
struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);
         __type(value, int[16]); }} vals SEC(".maps");
SEC("socket") int reads_b(struct __sk_buff *skb)
{{
    __u32 k = 0;
    struct pybpf_t *v = bpf_map_lookup_elem(&vals, &k);
    if (!v) return -1;
    return {expr};
}}
char LICENSE[] SEC("license") = "GPL";
""")


def _target(src: str):
    return _btf(src)


@pytest.mark.kernel
def test_a_flavored_type_of_the_target_is_a_candidate():
    """libbpf compares essential names on both sides: ``pybpf_t___v2`` in the target BTF
    stands for the local ``pybpf_t`` (the selftests' btf__core_reloc_*___diff objects)."""
    prog = _reads("struct pybpf_t { int a; int b; } __attribute__((preserve_access_index));",
                  "v->b")
    tgt = _target("struct pybpf_t___v2 { int pad[3]; int a; int b; } x;\n")
    with pybpf.load(prog, name="ct_flavor", kernel_btf=tgt) as obj:
        assert _run(obj) == 4


@pytest.mark.kernel
def test_only_a_trailing_zero_length_array_is_flexible():
    """Indexing past an array's length matches only a flexible one: length 0 and the last
    member of its struct (libbpf's is_flex_arr); a zero-length array elsewhere matches no
    index at all, so the access is poisoned."""
    prog = _reads("struct pybpf_t { int n; int arr[4]; } __attribute__((preserve_access_index));",
                  "v->arr[1]")
    last = _target("struct pybpf_t { int n; int pad; int arr[0]; } x;\n")
    with pybpf.load(prog, name="ct_flex", kernel_btf=last) as obj:
        assert _run(obj) == 3
    inner = _target("struct pybpf_t { int arr[0]; int n; } x;\n")
    with pytest.raises(errors.VerifierError, match=r"unresolved CO-RE relocation: byte_off "
                       r"of struct pybpf_t.arr\[1\]"):
        pybpf.load(prog, name="ct_noflex", kernel_btf=inner)


@pytest.mark.kernel
def test_an_inline_enum_field_is_compatible_with_a_named_one():
    prog = _reads("enum pybpf_e { PYBPF_E1 = 1 };\n"
                  "struct pybpf_t { enum pybpf_e e; int x; } __attribute__((preserve_access_index));",
                  "(int)v->e")
    tgt = _target("struct pybpf_t { int pad[2]; enum { OTHER = 100 } e; } x;\n")
    with pybpf.load(prog, name="ct_anonenum", kernel_btf=tgt) as obj:
        assert _run(obj) == 2


@pytest.mark.kernel
def test_candidates_that_failed_a_relocation_are_dropped_for_the_later_ones():
    """Two flavors holding one field each: the first relocation keeps only the flavor that
    has ``a``, which lacks ``b``, so the second is poisoned (libbpf narrows a type's
    candidates relocation by relocation; the selftests' nesting___err_partial_match_dups)."""
    prog = _reads("struct pybpf_t { int a; int b; } __attribute__((preserve_access_index));",
                  "v->a + v->b")
    tgt = _target("struct pybpf_t___x { int pad; int a; } x;\n"
                  "struct pybpf_t___y { int pad[2]; int b; } y;\n")
    with pytest.raises(errors.VerifierError, match="unresolved CO-RE relocation: byte_off "
                       "of struct pybpf_t.b"):
        pybpf.load(prog, name="ct_prune", kernel_btf=tgt)


@pytest.mark.kernel
def test_type_matches_follows_libbpf():
    """bpf_core_type_matches: enumerators by essential name (not value), a struct behind a
    pointer matches a forward declaration, an int must keep its sign."""
    decl = ("enum pybpf_e { PYBPF_E1 = 1, PYBPF_E2 = 2 };\n"
            "struct pybpf_o { int z; };\n"
            "struct pybpf_m { enum pybpf_e e; struct pybpf_o *p; };\n"
            "struct pybpf_s { int i; };\n"
            "struct pybpf_t { int a; } __attribute__((preserve_access_index));")
    prog = _reads(decl, "bpf_core_type_matches(struct pybpf_m) | "
                        "bpf_core_type_matches(struct pybpf_s) << 1")
    tgt = _target("enum pybpf_e___d { PYBPF_E2___d = 7, PYBPF_E1___d = 9 };\n"
                  "struct pybpf_o___fwd;\n"
                  "struct pybpf_m___d { enum pybpf_e___d e; struct pybpf_o___fwd *p; } m;\n"
                  "struct pybpf_s___d { unsigned int i; } s;\n")
    with pybpf.load(prog, name="ct_matches", kernel_btf=tgt) as obj:
        assert _run(obj) == 1


@pytest.mark.kernel
def test_kernel_btf_is_for_core_only_hooks_stay_the_kernels():
    """A tp_btf program loaded with kernel_btf= finds its hook in the running kernel
    (libbpf's btf_custom_path is for CO-RE alone); the selftests' core_reloc tests do so."""
    prog = pybpf.compile("""#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
struct pybpf_t { int a; int b; } __attribute__((preserve_access_index));
int seen;
SEC("tp_btf/sys_enter") int BPF_PROG(on_enter, struct pt_regs *regs, long id)
{
    struct pybpf_t *t = (void *)&seen;
    seen = __builtin_preserve_field_info(t->b, 0);   /* BPF_FIELD_BYTE_OFFSET */
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
""")
    tgt = _target("struct pybpf_t { int pad[3]; int a; int b; } x;\n")
    with pybpf.load(prog, name="ct_tpbtf", kernel_btf=tgt) as obj:
        assert obj.programs["on_enter"].fd is not None


def test_an_ambiguous_relocation_names_its_function_and_field():
    from pybpf.object.core import CoreError
    prog = _reads("struct pybpf_t { int a; int b; } __attribute__((preserve_access_index));",
                  "v->b")
    tgt = _target("struct pybpf_t___x { int pad; int b; } x;\n"
                  "struct pybpf_t___y { int b; } y;\n")
    with pytest.raises(CoreError, match=r"reads_b: byte_off of struct pybpf_t.b \(access "
                       r"0:1\): .* ambiguous"):
        pybpf.load(prog, name="ct_ambig", kernel_btf=tgt)
