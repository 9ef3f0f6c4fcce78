"""The oracle: every corpus program pybpf loads translates to the same instructions as
the same object loaded by libbpf (bpftool prog loadall), map ids aside."""

from __future__ import annotations

import os
import shutil
import subprocess
import struct

import pytest

import pybpf
from pybpf import errors, info
from tests.corpus import build

pytestmark = pytest.mark.kernel

# Programs this kernel refuses (trampolines) or cannot attach: compared where they load.
_TRAMPOLINE = ("fentry", "lsm")
# Objects the installed libbpf (Debian 12's bpftool, libbpf 1.1) cannot load itself:
# tcx/ sections came in libbpf 1.3, and libbpf 1.0 dropped legacy SEC("maps");
# SEC("netfilter") came in libbpf 1.2 (and the cgroup/*_unix hooks in 1.4).
_LIBBPF_TOO_OLD = {"net": "tcx/ingress", "legacy": "maps", "newer_sections": "netfilter"}


@pytest.fixture(scope="module")
def objs(request):
    why = build.why_not()
    if why:
        pytest.fail(f"corpus cannot be built: {why}")
    return request.getfixturevalue("corpus_objs")


def _normalize(xlated: bytes) -> list[tuple]:
    """Instructions with map references blanked (fds/ids/addresses differ per load)."""
    out = []
    i = 0
    while i + 8 <= len(xlated):
        code, regs, off, imm = struct.unpack_from("<BBhi", xlated, i)
        if code == 0x18 and i + 16 <= len(xlated):
            src = regs >> 4
            imm2 = struct.unpack_from("<i", xlated, i + 12)[0]
            if src in (1, 2, 5, 6):      # map fd / map value: kernel shows map ids
                imm = 0
            if src == 0 and imm2 and imm:  # map pointer already rewritten to an address
                imm = imm2 = 0
            out.append((code, regs, off, imm, imm2))
            i += 16
            continue
        if code == 0x85 and regs >> 4 == 0:
            imm = imm  # helper calls keep their ids in xlated
        out.append((code, regs, off, imm))
        i += 8
    return out


def _libbpf_xlated(path, pin_dir) -> dict[str, list[tuple]]:
    r = subprocess.run(["bpftool", "-d", "prog", "loadall", str(path), pin_dir],
                       capture_output=True, text=True)
    if r.returncode:
        shutil.rmtree(pin_dir, ignore_errors=True)
        return {"_error": r.stderr}
    out = {}
    try:
        for name in os.listdir(pin_dir):
            with pybpf.Program.from_pin(os.path.join(pin_dir, name)) as p:
                # keyed by the pin's name, the program's full one: the kernel's 15
                # characters can collide
                out[name] = _normalize(p.xlated())
                out["_maps", name] = _map_names(p)
    finally:
        shutil.rmtree(pin_dir, ignore_errors=True)
    return out


def _map_names(prog) -> list[str]:
    """Kernel names of the maps a program uses or has bound (bpftool's map_ids), sorted:
    with .rodata bound to every program as libbpf does, these agree too."""
    names = []
    for map_id in prog.info().map_ids:
        with pybpf.Map.from_id(map_id) as m:
            names.append(m.name)
    return sorted(names)


@pytest.fixture(autouse=True)
def _no_stray_pins():
    """Maps marked LIBBPF_PIN_BY_NAME are pinned under /sys/fs/bpf by libbpf and by us:
    remove what a test pinned there."""
    from pybpf import bpffs as fs
    root = fs.ensure_mounted()
    before = set(os.listdir(root))
    yield
    for name in set(os.listdir(root)) - before:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            os.unlink(path)


@pytest.mark.parametrize("name", [p.stem.split(".")[0] for p in build.sources()])
def test_xlated_matches_libbpf(objs, name, bpffs):
    path = objs[name]
    ref = _libbpf_xlated(path, os.path.join(bpffs, f"oracle-{name}"))
    if name in _TRAMPOLINE:
        with pytest.raises(errors.NotSupportedError) as ei:
            pybpf.load(path)
        assert "trampoline" in str(ei.value).lower()
        assert "_error" in ref  # libbpf fails the same way here
        return
    with pybpf.load(path) as obj:
        assert obj.programs
        if name in _LIBBPF_TOO_OLD:
            assert "_error" in ref and _LIBBPF_TOO_OLD[name] in ref["_error"]
            return
        assert "_error" not in ref, f"bpftool could not load {name}: {ref['_error'][-500:]}"
        for pname, prog in obj.programs.items():
            mine = _normalize(prog.xlated())
            assert mine == ref[pname], f"{name}:{pname} differs from libbpf"
            assert _map_names(prog) == ref["_maps", pname], f"{name}:{pname} map ids"
    # the second load replays the cached load plan (when the object can have one):
    # the kernel must get the same programs
    with pybpf.load(path) as obj:
        for pname, prog in obj.programs.items():
            mine = _normalize(prog.xlated())
            assert mine == ref[pname], f"{name}:{pname} (plan replay) differs from libbpf"
            assert _map_names(prog) == ref["_maps", pname], f"{name}:{pname} map ids"


def test_load_closes_everything_on_failure(objs):
    before = {p.id for p in info.list_objects("prog")}
    with pytest.raises(errors.PybpfError):
        pybpf.load(objs["lsm"])
    assert {p.id for p in info.list_objects("prog")} - before == set()


def test_rodata_set_before_load_and_data_after(objs):
    spec = pybpf.ObjectSpec.from_file(objs["tracepoint"])
    assert spec.maps[".rodata"].variables
    with pybpf.load(spec) as obj:
        ro = obj.maps[".rodata"]
        assert ro.info().flags & 0x80   # BPF_F_RDONLY_PROG


AUTOLOAD_OFF = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

SEC("?socket")
int pt_off(struct __sk_buff *skb) { return 0; }

SEC("socket")
int pt_on(struct __sk_buff *skb) { return skb->len; }

char LICENSE[] SEC("license") = "GPL";
"""

STATIC_MAP = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

static struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, int);
    __type(value, long);
} pt_static SEC(".maps");

SEC("socket")
int pt_a(struct __sk_buff *skb)
{
    int k = 0;
    long *v = bpf_map_lookup_elem(&pt_static, &k);
    return v ? *v : 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_question_mark_sections_are_not_loaded_unless_asked():
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(AUTOLOAD_OFF), name="pt_auto")
    off = spec.programs["pt_off"]
    assert not off.autoload and off.sec_info.prog_type == spec.programs["pt_on"].type
    with pybpf.load(spec) as obj:
        assert set(obj.programs) == {"pt_on"}
    off.autoload = True
    with pybpf.load(spec) as obj:
        assert set(obj.programs) == {"pt_on", "pt_off"}


def test_static_maps_are_refused_clearly():
    with pytest.raises(errors.ELFError, match="pt_static.*static"):
        pybpf.ObjectSpec.from_bytes(pybpf.compile(STATIC_MAP))


PINNED = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_pinned SEC(".maps");

SEC("socket")
int pt_pin_user(struct __sk_buff *skb)
{
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&pt_pinned, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_pin_by_name_creates_then_reuses_the_pinned_map(bpffs):
    """LIBBPF_PIN_BY_NAME: the first load pins the map under pin_root, the next load (of
    this or another object) reuses it, so its contents survive; unpinning is the user's."""
    data = pybpf.compile(PINNED)
    path = os.path.join(bpffs, "pt_pinned")
    key = (0).to_bytes(4, "little")
    with pybpf.load(data, pin_root=bpffs) as a:
        assert os.path.exists(path)
        a.maps["pt_pinned"].update(key, (41).to_bytes(8, "little"))
        first_id = a.maps["pt_pinned"].id
    assert os.path.exists(path)               # the pin outlives the object
    for _ in range(2):                        # the full path, then the plan replay
        with pybpf.load(data, pin_root=bpffs) as b:
            m = b.maps["pt_pinned"]
            assert m.id == first_id
            assert int.from_bytes(m.lookup_raw(key), "little") == 41
            b.programs["pt_pin_user"].test_run(bytes(64))
            m.update(key, (41).to_bytes(8, "little"))
    os.unlink(path)


MODULE_CORE = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* defined by the veth module, not vmlinux: CO-RE must look into module BTF */
struct veth_priv___pt {
    unsigned int requested_headroom;
} __attribute__((preserve_access_index));

__u32 exists = 0, off = 0;

SEC("socket")
int pt_modcore(struct __sk_buff *skb)
{
    exists = bpf_core_type_exists(struct veth_priv___pt);
    if (bpf_core_type_exists(struct veth_priv___pt))
        off = bpf_core_field_offset(struct veth_priv___pt, requested_headroom);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.needs_hook("module_btf")
def test_core_relocations_against_module_btf():
    from tests.vm import hook_absent
    from pybpf.btf.kernel import load_module, load_vmlinux
    import subprocess
    subprocess.run(["ip", "link", "add", "pt-mc0", "type", "veth", "peer", "name", "pt-mc1"],
                   capture_output=True)     # loads veth.ko where veth is a module
    try:
        vmlinux = load_vmlinux()
        if os.path.exists("/sys/kernel/btf/veth"):
            spec, where = load_module("veth", vmlinux), "module"
            ids = [t for t in spec.find("veth_priv") if t >= spec.start_id]
        else:
            spec, where = vmlinux, "vmlinux"
            ids = spec.find("veth_priv")
        want_off = None
        if ids:
            want_off = next(m.offset_bits // 8 for m in spec[ids[0]].members
                            if m.name == "requested_headroom")
        with pybpf.load(pybpf.compile(MODULE_CORE), name="pt_modcore") as obj:
            obj.programs["pt_modcore"].test_run(bytes(64))
            exists = int.from_bytes(obj.global_value("exists"), "little")
            off = int.from_bytes(obj.global_value("off"), "little")
        assert exists == (1 if ids else 0)
        if ids:
            assert off == want_off
        if where != "module":
            hook_absent()      # veth is built in (or absent) here: the module path is untested
    finally:
        subprocess.run(["ip", "link", "del", "pt-mc0"], capture_output=True)


def test_pin_on_request_keeps_maps_and_programs_after_close(objs, bpffs):
    d = os.path.join(bpffs, "pt_objpin")
    with pybpf.load(objs["tracepoint"]) as obj:
        paths = obj.pin(d)
        ids = {n: p.id for n, p in obj.programs.items()}
        map_ids = {n: m.id for n, m in obj.maps.items()}
    assert sorted(os.listdir(d)) == sorted(os.path.basename(p) for p in paths)
    for name, pid in ids.items():
        with pybpf.Program.from_pin(os.path.join(d, name)) as p:
            assert p.id == pid                    # alive after the object closed
    for name, mid in map_ids.items():
        with pybpf.Map.from_pin(os.path.join(d, name.lstrip("."))) as m:
            assert m.id == mid
    for p in paths:
        os.unlink(p)
    os.rmdir(d)
    assert not set(ids.values()) & {p.id for p in info.list_objects("prog")}


def test_public_names_programs_fd_and_id(objs):
    """The entry points other code relies on: Object.programs[name].fd / .id, maps, with."""
    with pybpf.load(objs["tracepoint"]) as obj:
        assert isinstance(obj, pybpf.Object)
        for p in obj.programs.values():
            assert p.fd > 0 and os.fstat(p.fd) and "%d" % p.fd
            assert p.id == info.prog_info(int(p.fd)).id > 0
        for m in obj.maps.values():
            assert m.fd > 0 and m.id > 0
    assert not obj.programs and not obj.maps


KFUNC_FLAVORS = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
extern struct task_struct *bpf_task_acquire___one(struct task_struct *p) __ksym __weak;
extern struct task_struct *bpf_task_acquire___two(struct task_struct *p, int *x) __ksym __weak;
%s
SEC("tc") int flavors(struct __sk_buff *skb)
{
    return (!!bpf_task_acquire___one) | (!!bpf_task_acquire___two) << 1 %s;
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.kernel
def test_kfunc_flavors_resolve_by_essential_name_and_prototype():
    """``bpf_task_acquire___one`` is the kernel's bpf_task_acquire when its prototype
    fits; ``___two`` (another prototype) stays unresolved, as libbpf resolves weak kfunc
    flavors (the selftests' task_kfunc_success)."""
    with pybpf.load(pybpf.compile(KFUNC_FLAVORS % ("", "")), name="kflavors") as obj:
        assert obj.programs["flavors"].test_run(b"\0" * 64).retval == 1
