"""CO-RE resolution and patching, on hand-built BTF (no kernel, no root)."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from pybpf.btf import Spec
from pybpf.btf import types as T
from pybpf.btf.ext import CoreReloKind as R
from pybpf.object import core


def _spec(fields, name="task", extra=()):
    s = Spec()
    i32 = s.add(T.Int("int", 4, T.SIGNED, 32, 0))
    u16 = s.add(T.Int("u16", 2, 0, 16, 0))
    members = [T.Member(n, {"int": i32, "u16": u16}[t], off, bf) for n, t, off, bf in fields]
    sid = s.add(T.Struct(name, max(m.offset_bits // 8 for m in members) + 8, members))
    for t in extra:
        s.add(t)
    return s, sid


def relo(tid, access, kind):
    return SimpleNamespace(type_id=tid, access=access, kind=kind)


def test_essential_name():
    assert core.essential_name("task_struct___old") == "task_struct"
    assert core.essential_name("a___b___c") == "a___b"
    assert core.essential_name("plain") == "plain"
    assert core.essential_name("__x") == "__x"


def test_field_offset_moves_with_target():
    local, lid = _spec([("pid", "int", 0, 0), ("tgid", "int", 32, 0)])
    target, _ = _spec([("pad", "int", 0, 0), ("x", "int", 32, 0), ("tgid", "int", 64, 0)])
    fix = core.resolve(local, relo(lid, "0:1", R.FIELD_BYTE_OFFSET), [target])
    assert (fix.local, fix.target, fix.poison) == (4, 8, False)


def test_flavor_matches_and_missing_field_poisons():
    local, lid = _spec([("gone", "int", 0, 0)], name="task___old")
    target, _ = _spec([("pid", "int", 0, 0)])
    assert core.resolve(local, relo(lid, "0:0", R.FIELD_BYTE_OFFSET), [target]).poison
    ex = core.resolve(local, relo(lid, "0:0", R.FIELD_EXISTS), [target])
    assert (ex.target, ex.poison) == (0, False)


def test_type_relocations():
    local, lid = _spec([("pid", "int", 0, 0)])
    target, tid = _spec([("pid", "int", 0, 0), ("more", "int", 64, 0)])
    assert core.resolve(local, relo(lid, "0", R.TYPE_EXISTS), [target]).target == 1
    assert core.resolve(local, relo(lid, "0", R.TYPE_SIZE), [target]).target == \
        target.sizeof(tid)
    assert core.resolve(local, relo(lid, "0", R.TYPE_ID_TARGET), [target]).target == tid
    other, _ = _spec([("pid", "int", 0, 0)], name="nothing_like_it")
    assert core.resolve(local, relo(lid, "0", R.TYPE_EXISTS), [other]).target == 0


def test_bitfield_shifts():
    local, lid = _spec([("a", "int", 0, 3), ("b", "int", 3, 5)])
    target, _ = _spec([("a", "int", 0, 3), ("b", "int", 7, 5)])
    lsh = core.resolve(local, relo(lid, "0:1", R.FIELD_LSHIFT_U64), [target])
    rsh = core.resolve(local, relo(lid, "0:1", R.FIELD_RSHIFT_U64), [target])
    assert (lsh.target, rsh.target) == (64 - 12, 64 - 5)


def test_enum_value():
    s = Spec()
    eid = s.add(T.Enum("state", 4, False, [T.EnumValue("RUNNING", 0),
                                            T.EnumValue("DEAD", 7)]))
    t = Spec()
    t.add(T.Enum("state", 4, False, [T.EnumValue("DEAD", 9), T.EnumValue("RUNNING", 1)]))
    assert core.resolve(s, relo(eid, "1", R.ENUMVAL_VALUE), [t]).target == 9
    assert core.resolve(s, relo(eid, "1", R.ENUMVAL_EXISTS), [t]).target == 1


def test_candidates_are_searched_once_per_local_type(monkeypatch):
    """Falco's probe carries ~17,000 relocations against a few hundred types: with the
    candidate cache of one load, the target BTF is searched once per local type (as
    libbpf's cand_cache), each result as without the cache; enum flavours still match."""
    local, lid = _spec([("pid", "int", 0, 0), ("tgid", "int", 32, 0)])
    eid = local.add(T.Enum("state___new", 4, False, [T.EnumValue("DEAD___x", 7)]))
    target, _ = _spec([("pad", "int", 0, 0), ("tgid", "int", 32, 0), ("pid", "int", 64, 0)])
    target.add(T.Enum("state", 4, False, [T.EnumValue("RUNNING", 1), T.EnumValue("DEAD", 9)]))
    relos = [relo(lid, f"0:{i % 2}", R.FIELD_BYTE_OFFSET) for i in range(50)] + \
        [relo(eid, "0", R.ENUMVAL_VALUE)] * 20
    plain = [core.resolve(local, r, [target]) for r in relos]
    seen = []
    real_find = target.find
    monkeypatch.setattr(target, "find", lambda name, kind=None: seen.append(name) or
                        real_find(name, kind))
    cands: dict = {}
    cached = [core.resolve(local, r, [target], None, cands) for r in relos]
    assert sorted(seen) == ["state", "task"]
    assert [(f.local, f.target, f.poison) for f in cached] == \
        [(f.local, f.target, f.poison) for f in plain]
    assert (plain[0].target, plain[1].target, plain[-1].target) == (8, 4, 9)


def test_ambiguous_candidates_raise():
    local, lid = _spec([("pid", "int", 0, 0)])
    target = Spec()
    i32 = target.add(T.Int("int", 4, T.SIGNED, 32, 0))
    target.add(T.Struct("task", 8, [T.Member("pid", i32, 0)]))
    target.add(T.Struct("task", 8, [T.Member("pid", i32, 32)]))
    with pytest.raises(core.CoreError, match="ambiguous"):
        core.resolve(local, relo(lid, "0:0", R.FIELD_BYTE_OFFSET), [target])


def test_patch_ldx_alu_ld64_and_poison():
    insns = bytearray(struct.pack("<BBhi", 0x61, 0x21, 4, 0))      # r1 = *(u32 *)(r2 + 4)
    insns += struct.pack("<BBhi", 0xB7, 0x01, 0, 4)                 # r1 = 4
    insns += struct.pack("<BBhiBBhi", 0x18, 0x01, 0, 4, 0, 0, 0, 0)  # r1 = 4 ll
    fix = core.Fix(R.FIELD_BYTE_OFFSET, 4, 8, orig_size=4, new_size=2)
    core.patch(insns, 0, fix)
    assert struct.unpack_from("<BBhi", insns, 0) == (0x69, 0x21, 8, 0)  # now a u16 load
    core.patch(insns, 1, core.Fix(R.FIELD_BYTE_OFFSET, 4, 12))
    assert struct.unpack_from("<i", insns, 12)[0] == 12
    core.patch(insns, 2, core.Fix(R.TYPE_SIZE, 4, 1 << 33))
    assert struct.unpack_from("<i", insns, 20)[0] == 0
    assert struct.unpack_from("<i", insns, 28)[0] == 2
    core.patch(insns, 1, core.Fix(R.FIELD_BYTE_OFFSET, 12, 0, poison=True))
    assert struct.unpack_from("<BBhi", insns, 8) == (0x85, 0, 0, core.POISON_IMM)
    with pytest.raises(core.CoreError):
        core.patch(insns, 0, core.Fix(R.FIELD_BYTE_OFFSET, 99, 1))


def test_module_types_are_candidates_only_when_vmlinux_has_none():
    """Like libbpf: vmlinux first; modules' split BTF only for types vmlinux lacks."""
    vmlinux, _ = _spec([("pid", "int", 0, 0)], name="task")
    module = Spec(base=vmlinux)
    i32 = module.find("int")[0]
    module.add(T.Struct("veth_priv", 16, [T.Member("pad", i32, 0, 0),
                                           T.Member("headroom", i32, 64, 0)]))
    local, lid = _spec([("headroom", "int", 0, 0)], name="veth_priv")
    asked = []

    def modules():
        asked.append(1)
        return [module]
    fix = core.resolve(local, relo(lid, "0:0", R.FIELD_BYTE_OFFSET), [vmlinux], modules)
    assert (fix.local, fix.target, fix.poison) == (0, 8, False) and asked
    # without the modules, the relocation finds nothing
    assert core.resolve(local, relo(lid, "0:0", R.FIELD_BYTE_OFFSET), [vmlinux]).poison
    # a type vmlinux has never consults the modules
    asked.clear()
    tl, tlid = _spec([("pid", "int", 0, 0)], name="task")
    core.resolve(tl, relo(tlid, "0:0", R.FIELD_BYTE_OFFSET), [vmlinux], modules)
    assert not asked


def test_describe_names_the_relocation_as_written():
    local, lid = _spec([("pid", "int", 0, 0), ("tgid", "int", 32, 0)], name="task___old")
    assert core.describe(local, relo(lid, "0:1", R.FIELD_BYTE_OFFSET)) == \
        "byte_off of struct task___old.tgid (access 0:1)"
    assert core.describe(local, relo(lid, "0", R.TYPE_SIZE)) == \
        "type_size of struct task___old (access 0)"
    # a malformed access is described, never raised
    assert core.describe(local, relo(lid, "0:9", R.FIELD_EXISTS)) == \
        f"exists of type [{lid}] (access 0:9)"
