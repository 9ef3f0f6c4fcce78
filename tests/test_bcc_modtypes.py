"""Types from loaded kernel modules' BTF for bcc programs that name them (a driver's or a
file system's private structs).  This host's kernel has no modules, so a module's split BTF is
built on the real vmlinux BTF and written where ``/sys/kernel/btf`` would show it; in the
kernel-matrix guest the veth module's own BTF is used and the program loads."""

from __future__ import annotations

import os
import re

import pytest

from pybpf.bcc import modtypes, prelude, rewrite, tpformat
from pybpf.btf import types as T
from pybpf.btf.kernel import load_vmlinux
from pybpf.btf.spec import Spec
from pybpf.btf.types import Kind

INC = os.path.join(os.path.dirname(rewrite.__file__), "include")


def _fake_module(base, extra_name: str | None = None) -> bytes:
    """Split BTF of a module defining ``struct pybpf_fake_ctx`` (a module-only struct
    embedded, a vmlinux struct embedded and pointed to)."""
    mod = Spec(base)
    u64 = base.find_one("long long unsigned int", Kind.INT)
    u32 = base.find_one("unsigned int", Kind.INT)
    task = base.find_one("task_struct", Kind.STRUCT)
    lh = base.find_one("list_head", Kind.STRUCT)
    inner = mod.add(T.Struct("pybpf_fake_inner", 24, [T.Member("a", u64, 0),
                                                      T.Member("l", lh, 64)]))
    pt = mod.add(T.Ptr(task))
    mod.add(T.Struct(extra_name or "pybpf_fake_ctx", 40, [
        T.Member("task", pt, 0), T.Member("inner", inner, 64), T.Member("n", u32, 256)]))
    mod.add(T.Enum("pybpf_fake_state", 4, values=[T.EnumValue("PYBPF_FAKE_UP", 7)]))
    mod.add(T.Typedef("pybpf_fake_inner_t", inner))
    return mod.to_bytes()


@pytest.fixture(scope="module")
def vmlinux():
    return load_vmlinux()


def test_wanted_tags_are_those_neither_vmlinux_nor_the_program_defines():
    text = ("struct mine { int a; };\nint f(struct pt_regs *ctx, struct nfs_commit_data *cd,\n"
            "      struct sock *sk, struct mine *m, union nfs_u *u, enum nfs_e e);\n")
    assert modtypes.wanted("int f(struct tracepoint__a__b *args);", frozenset(),
                           "struct tracepoint__a__b {\n int x; };\n") == []
    assert modtypes.unknown_names(
        "bpf_text:3:5: error: unknown type name 'nfs4_stateid'\n"
        "bpf_text:4:9: error: use of undeclared identifier 'NFS_X'\n") == ["nfs4_stateid",
                                                                         "NFS_X"]
    assert modtypes.wanted(text, frozenset({"sock", "pt_regs"})) == [
        ("struct", "nfs_commit_data"), ("union", "nfs_u"), ("enum", "nfs_e")]


def test_a_module_struct_comes_with_its_module_only_types(vmlinux):
    a = Spec.parse(_fake_module(vmlinux), vmlinux)
    b = Spec.parse(_fake_module(vmlinux, "pybpf_other_ctx"), vmlinux)
    text = modtypes.declarations([a, b], [("struct", "pybpf_fake_ctx"),
                                          ("struct", "pybpf_other_ctx"),
                                          ("enum", "pybpf_fake_state"),
                                          ("struct", "nowhere")])
    # module types are declared once (b's copy of pybpf_fake_inner is a's), vmlinux's
    # (task_struct, list_head) not at all: vmlinux.h has them
    assert text.count("struct pybpf_fake_inner {") == 1
    assert text.index("struct pybpf_fake_inner {") < text.index("struct pybpf_fake_ctx {")
    assert "struct pybpf_other_ctx {" in text and "PYBPF_FAKE_UP = 7" in text
    assert "struct task_struct *task;" in text and "struct task_struct {" not in text
    assert "struct list_head {" not in text and "nowhere" not in text
    assert text.startswith("#pragma clang attribute push (__attribute__((preserve_access_")
    assert modtypes.declarations([a], [("struct", "nowhere")]) == ""
    # a constant or a typedef alone brings its enum or typedef (and what that needs)
    alone = modtypes.declarations([a], [("enumerator", "PYBPF_FAKE_UP"),
                                        ("typedef", "pybpf_fake_inner_t")])
    assert "enum pybpf_fake_state {" in alone and "pybpf_fake_ctx" not in alone
    assert alone.index("struct pybpf_fake_inner {") < alone.index(
        "typedef struct pybpf_fake_inner pybpf_fake_inner_t;")
    # what the text declares already is not declared again
    assert "struct pybpf_fake_inner {" not in modtypes.declarations(
        [a], [("typedef", "pybpf_fake_inner_t")], {"pybpf_fake_inner"})


def test_a_modules_copies_of_vmlinux_names_do_not_clash_with_vmlinux_h(vmlinux):
    """pahole leaves some vmlinux types duplicated in a module's BTF (nfs's struct
    rcuwait), and a module may use a tag vmlinux uses for another kind (dm-mod's union
    map_info beside vmlinux's struct map_info): C has one namespace for tags."""
    mod = Spec(vmlinux)
    u64 = vmlinux.find_one("long long unsigned int", Kind.INT)
    dup = mod.add(T.Struct("list_head", 16, [T.Member("next", u64, 0),
                                             T.Member("prev", u64, 64)]))
    other = mod.add(T.Union("task_struct", 8, [T.Member("v", u64, 0)]))
    mod.add(T.Struct("pybpf_fake_user", 24, [T.Member("l", dup, 0),
                                             T.Member("u", other, 128)]))
    spec = Spec.parse(mod.to_bytes(), vmlinux)
    text = modtypes.declarations([spec], [("struct", "pybpf_fake_user")])
    assert "struct list_head {" not in text and "struct list_head l;" in text
    m = re.search(r"union (task_struct___\d+) \{", text)
    assert m and f"union {m.group(1)} u;" in text


PROGRAM = r"""
#include <linux/nfs_fs.h>
_Static_assert(sizeof(struct pybpf_fake_ctx) == 40, "size");
_Static_assert(__builtin_offsetof(struct pybpf_fake_ctx, n) == 32, "n");
_Static_assert(__builtin_offsetof(struct pybpf_fake_ctx, inner.l) == 16, "inner.l");
BPF_HASH(out, u32, u64);
int kprobe__pybpf_fake_fn(struct pt_regs *ctx, struct pybpf_fake_ctx *c)
{
    u32 k = 0;
    enum pybpf_fake_state up = PYBPF_FAKE_UP;
    u64 v = c->task->tgid + c->n + c->inner.a + up;
#ifdef UNTAGGED
    pybpf_fake_inner_t *in = &c->inner;            /* a typedef and a constant alone */
    v += in->a + PYBPF_FAKE_UP;
#endif
    out.update(&k, &v);
    return 0;
}
"""


def test_a_program_naming_a_module_struct_compiles_with_the_modules_layout(vmlinux, tmp_path,
                                                                           monkeypatch):
    (tmp_path / "vmlinux").write_bytes(b"")          # ignored: vmlinux.h has it
    (tmp_path / "fakemod").write_bytes(_fake_module(vmlinux))
    rw = rewrite.rewrite(PROGRAM, bind=lambda k, t, s, r: rewrite.Binding("kprobe", t, s, r),
                         tp_struct=tpformat.struct_for)
    src = modtypes.add(rw.source, prelude.kernel_tags(), btf_dir=str(tmp_path))
    assert "/* from the BTF of fakemod */" in src
    head, user = src.split('#line 1 "bpf_text"\n', 1)
    assert "struct pybpf_fake_ctx {" in head and "struct pybpf_fake_ctx {" not in user
    elf = prelude.compile(src, [], [INC], rw=rw)
    assert elf[:4] == b"\x7fELF"
    # nothing to add: no modules, or a program naming only vmlinux's types
    assert modtypes.add(rw.source, prelude.kernel_tags(), btf_dir=str(tmp_path / "no")) \
        == rw.source
    # a typedef and an enumerator used without their tags: clang names them undeclared,
    # and the compile is tried again with them
    monkeypatch.setattr(modtypes, "BTF_DIR", str(tmp_path))
    assert prelude.compile(rw.source, ["-DUNTAGGED"], [INC], rw=rw)[:4] == b"\x7fELF"
    plain = rewrite.rewrite("int kprobe__f(struct pt_regs *ctx, struct sock *sk)"
                            "{ return sk->__sk_common.skc_family; }\n",
                            bind=lambda k, t, s, r: rewrite.Binding("kprobe", t, s, r))
    assert modtypes.add(plain.source, prelude.kernel_tags(), btf_dir=str(tmp_path)) == \
        plain.source


VETH = r"""
BPF_ARRAY(out, u64, 2);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    int k0 = 0, k1 = 1;
    u64 off = (u64)&((struct veth_priv *)0)->requested_headroom;
    u64 size = sizeof(struct veth_priv);
    out.update(&k0, &off);
    out.update(&k1, &size);
    return 0;
}
"""


@pytest.mark.needs_hook("module_btf")
def test_a_bcc_program_uses_a_loaded_modules_struct():
    """veth is a module in the guest (its BTF in /sys/kernel/btf/veth once loaded) and
    built in here (vmlinux.h has its types): either way the program reads the offsets
    the kernel's BTF states."""
    import subprocess
    from pybpf.bcc.bpf import BPF
    from pybpf.btf.kernel import load_module
    from tests.vm import hook_absent
    subprocess.run(["ip", "link", "add", "pt-bm0", "type", "veth", "peer", "name", "pt-bm1"],
                   capture_output=True)     # loads veth.ko where veth is a module
    try:
        vmlinux = load_vmlinux()
        if os.path.exists("/sys/kernel/btf/veth"):
            spec, where = load_module("veth", vmlinux), "module"
            tid = next(t for t in spec.find("veth_priv", Kind.STRUCT) if t >= spec.start_id)
        else:
            spec, where = vmlinux, "vmlinux"
            tid = spec.find_one("veth_priv", Kind.STRUCT)
        want = next(m.offset_bits // 8 for m in spec[tid].members
                    if m.name == "requested_headroom")
        with BPF(text=VETH) as b:
            os.getppid()
            got = [b["out"][i].value for i in range(2)]
        assert got == [want, spec[tid].size]
        if where != "module":
            hook_absent()      # veth is built in here: the module path is tested in the guest
    finally:
        subprocess.run(["ip", "link", "del", "pt-bm0"], capture_output=True)
