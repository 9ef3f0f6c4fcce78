"""struct_ops maps: parsing (which kernel struct, member -> program), the kernel value
layout and its one-line errors, and a BPF TCP congestion control registered through
``obj.attach()`` that a loopback transfer really uses."""

from __future__ import annotations

import errno
import os
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pybpf
from pybpf import errors
from pybpf._sys.uapi import MapFlag, MapType, ProgType
from pybpf.object import structops
from pybpf.object.structops_load import load_error, _register_error
from tests.vm import hook_absent

_HEAD = r"""
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
struct sock;
"""

# A Reno congestion control that counts its init and cong_avoid calls.  Its struct is a
# shadow of the kernel's: only the members it sets, matched to the kernel's by name.
CA = _HEAD + r"""
struct tcp_congestion_ops {
    __u32 (*ssthresh)(struct sock *sk);
    void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
    __u32 (*undo_cwnd)(struct sock *sk);
    void (*init)(struct sock *sk);
    char name[16];
};
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

__u64 inits = 0;
__u64 avoids = 0;

SEC("struct_ops/pt_ca_init")
void BPF_PROG(pt_ca_init, struct sock *sk) { __sync_fetch_and_add(&inits, 1); }

SEC("struct_ops/pt_ca_avoid")
void BPF_PROG(pt_ca_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
    __sync_fetch_and_add(&avoids, 1);
    tcp_reno_cong_avoid(sk, ack, acked);
}
SEC("struct_ops/pt_ca_ssthresh")
__u32 BPF_PROG(pt_ca_ssthresh, struct sock *sk) { return tcp_reno_ssthresh(sk); }
SEC("struct_ops/pt_ca_undo")
__u32 BPF_PROG(pt_ca_undo, struct sock *sk) { return tcp_reno_undo_cwnd(sk); }

/* registered by a link */
SEC(".struct_ops.link")
struct tcp_congestion_ops pt_ca = {
    .init = (void *)pt_ca_init, .cong_avoid = (void *)pt_ca_avoid,
    .ssthresh = (void *)pt_ca_ssthresh, .undo_cwnd = (void *)pt_ca_undo, .name = "pt_ca_l",
};
/* registered by a map update; shares three programs with pt_ca */
SEC(".struct_ops")
struct tcp_congestion_ops pt_ca_plain = {
    .cong_avoid = (void *)pt_ca_avoid, .ssthresh = (void *)pt_ca_ssthresh,
    .undo_cwnd = (void *)pt_ca_undo, .name = "pt_ca_p",
};
/* never created ("?"), so never registered */
SEC("?.struct_ops")
struct tcp_congestion_ops pt_ca_off = {
    .cong_avoid = (void *)pt_ca_avoid, .ssthresh = (void *)pt_ca_ssthresh,
    .undo_cwnd = (void *)pt_ca_undo, .name = "pt_ca_o",
};
char LICENSE[] SEC("license") = "GPL";
"""

# Structs that parse but do not fit the kernel's (checked by kernel_layout).
LAYOUTS = _HEAD + r"""
struct tcp_congestion_ops___big { __u64 flags; char name[16]; };
struct tcp_congestion_ops___extra { int pt_absent; char name[16]; };
struct tcp_congestion_ops___zero { int pt_absent; char name[16]; };
struct tcp_congestion_ops___kind { int ssthresh; };
struct pt_no_such_ops { int x; };
SEC(".struct_ops") struct tcp_congestion_ops___big pt_big = { .flags = 1 };
SEC(".struct_ops") struct tcp_congestion_ops___extra pt_extra = { .pt_absent = 1 };
SEC(".struct_ops") struct tcp_congestion_ops___zero pt_zero = { .name = "pt_z" };
SEC(".struct_ops") struct tcp_congestion_ops___kind pt_kind = { .ssthresh = 1 };
SEC(".struct_ops") struct pt_no_such_ops pt_nosuch = { .x = 1 };
char LICENSE[] SEC("license") = "GPL";
"""

_OPS = r"""
struct tcp_congestion_ops { void (*init)(struct sock *sk); void *data; char name[16]; };
int pt_counter = 0;
SEC("tracepoint/syscalls/sys_enter_getpid")
int pt_tp(void *ctx) { return 0; }
SEC("struct_ops/pt_init")
void BPF_PROG(pt_init, struct sock *sk) { }
"""
# Objects a parser must refuse, with the words its one line must hold.
BAD = {
    "not_a_program": (_OPS + 'SEC(".struct_ops") struct tcp_congestion_ops pt_m = '
                      '{ .init = (void *)&pt_counter };', "names 'pt_counter', which is not"),
    "not_struct_ops": (_OPS + 'SEC(".struct_ops") struct tcp_congestion_ops pt_m = '
                       '{ .init = (void *)pt_tp };', "program 'pt_tp' of section"),
    "not_func_ptr": (_OPS + 'SEC(".struct_ops") struct tcp_congestion_ops pt_m = '
                     '{ .data = (void *)pt_init };', "member 'data' is not a function"),
    "not_struct": (_OPS + 'SEC(".struct_ops") int pt_m = 1;', "not a named struct"),
}


@pytest.fixture(scope="module")
def ca_bytes() -> bytes:
    return pybpf.compile(CA)


def _spec(data: bytes, name: str = "pt_so") -> pybpf.ObjectSpec:
    return pybpf.ObjectSpec.from_bytes(data, name=name)


def _vmlinux():
    from pybpf.btf.kernel import load_vmlinux
    return load_vmlinux()


# -- parsing (no kernel) ----------------------------------------------------------------

def test_spec_shows_struct_ops_maps_and_their_programs(ca_bytes):
    spec = _spec(ca_bytes)
    so = spec.struct_ops
    assert sorted(so) == ["pt_ca", "pt_ca_off", "pt_ca_plain"]
    assert so["pt_ca"].type_name == "tcp_congestion_ops" and so["pt_ca"].link
    assert so["pt_ca"].programs == {"init": "pt_ca_init", "cong_avoid": "pt_ca_avoid",
                                    "ssthresh": "pt_ca_ssthresh", "undo_cwnd": "pt_ca_undo"}
    assert not so["pt_ca_plain"].link and "init" not in so["pt_ca_plain"].programs
    m = spec.maps["pt_ca"]
    assert (m.type, m.key_size, m.max_entries, m.flags) == (MapType.STRUCT_OPS, 4, 1,
                                                            MapFlag.LINK)
    assert m.value_size == 8 * 4 + 16 and m.data[32:40] == b"pt_ca_l\0"
    assert spec.maps["pt_ca_plain"].flags == 0 and spec.maps["pt_ca_plain"].autocreate
    assert not spec.maps["pt_ca_off"].autocreate
    assert {p.type for p in spec.programs.values()} == {ProgType.STRUCT_OPS}


def test_autoload_follows_the_maps_that_name_a_program(ca_bytes):
    spec = _spec(ca_bytes)
    spec.maps["pt_ca"].autocreate = False
    structops.adjust_autoload(spec)
    # pt_ca_init serves only the map not created; the rest also serve pt_ca_plain
    assert {n: p.autoload for n, p in spec.programs.items()} == {
        "pt_ca_init": False, "pt_ca_avoid": True, "pt_ca_ssthresh": True, "pt_ca_undo": True}


def test_kernel_layout_copies_data_by_name_and_places_programs(ca_bytes):
    spec = _spec(ca_bytes)
    kern = _vmlinux()
    lay = structops.kernel_layout(spec.maps["pt_ca"], spec.btf, kern)
    vtype, ktype = kern[lay.value_type_id], kern[lay.type_id]
    assert vtype.name == "bpf_struct_ops_tcp_congestion_ops" and len(lay.value) == vtype.size
    assert ktype.name == "tcp_congestion_ops"
    base = next(m for m in vtype.members if m.type == lay.type_id).offset_bits // 8
    kmembers = {m.name: (i, m.offset_bits // 8) for i, m in enumerate(ktype.members)}
    assert lay.slots == {n: (base + kmembers[n][1], kmembers[n][0])
                         for n in ("init", "cong_avoid", "ssthresh", "undo_cwnd")}
    off = base + kmembers["name"][1]
    assert bytes(lay.value[off:off + 16]) == b"pt_ca_l".ljust(16, b"\0")
    assert not any(b for i, b in enumerate(lay.value) if not off <= i < off + 16)
    targets = structops.program_targets(spec.maps, {"pt_ca": lay})
    assert targets["pt_ca_avoid"] == (lay.type_id, kmembers["cong_avoid"][0])


@pytest.mark.parametrize("var,exc,words", [
    ("pt_big", errors.ELFError, "member 'flags' is 8 bytes here but 4 in the kernel"),
    ("pt_extra", errors.ELFError, "member 'pt_absent' is set, but this kernel's struct "
                                  "tcp_congestion_ops has no such member"),
    ("pt_kind", errors.ELFError, "member 'ssthresh' is a int here but a ptr"),
    ("pt_nosuch", errors.NotFoundError, "the kernel's BTF has no struct 'pt_no_such_ops'"),
])
def test_kernel_layout_refuses_what_does_not_fit(var, exc, words):
    spec = _spec(pybpf.compile(LAYOUTS))
    with pytest.raises(exc) as ei:
        structops.kernel_layout(spec.maps[var], spec.btf, _vmlinux())
    msg = str(ei.value)
    assert words in msg and f"struct_ops map {var!r}" in msg and "\n" not in msg


def test_kernel_layout_drops_zero_members_the_kernel_lacks():
    spec = _spec(pybpf.compile(LAYOUTS))
    lay = structops.kernel_layout(spec.maps["pt_zero"], spec.btf, _vmlinux())
    assert lay.dropped == ("pt_absent",) and b"pt_z\0" in lay.value


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_struct_ops_objects_get_one_line(case):
    src, words = BAD[case]
    data = pybpf.compile(_HEAD + src + '\nchar LICENSE[] SEC("license") = "GPL";\n')
    with pytest.raises(errors.ELFError) as ei:
        _spec(data)
    msg = str(ei.value)
    assert words in msg and "\n" not in msg, msg


def test_refusals_name_the_map_and_the_hook(ca_bytes):
    spec = _spec(ca_bytes)
    e = load_error(spec.programs["pt_ca_init"], spec.maps,
                   errors.KernelError(errno.EPERM, "BPF_PROG_LOAD", "x"))
    assert isinstance(e, errors.NotSupportedError)
    assert "struct_ops map 'pt_ca'" in str(e) and "callback 'init'" in str(e)
    assert "trampolines" in str(e) and "\n" not in str(e)
    e = _register_error(errors.KernelError(errno.EEXIST, "BPF_LINK_CREATE", ""),
                        "struct_ops map 'pt_ca' (struct tcp_congestion_ops)",
                        "tcp_congestion_ops")
    assert "already has a tcp_congestion_ops registered under this one's name" in str(e)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fuzzed_struct_ops_sections_never_crash_the_parser(ca_bytes, data):
    from pybpf.elf import ELFFile
    f = ELFFile(ca_bytes)
    spans = [(s.offset, s.size) for s in f.sections
             if s.name in (".struct_ops", ".struct_ops.link", ".rel.struct_ops",
                           ".rel.struct_ops.link", ".BTF")]
    buf = bytearray(ca_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        off, size = data.draw(st.sampled_from(spans))
        pos = off + data.draw(st.integers(0, max(size - 1, 0)))
        buf[pos] = data.draw(st.integers(0, 255))
    try:
        spec = _spec(bytes(buf))
    except errors.PybpfError:
        return
    for m in spec.maps.values():
        if m.struct_ops is not None:
            try:
                structops.kernel_layout(m, spec.btf, _vmlinux())
            except errors.PybpfError:
                pass


# -- the kernel ---------------------------------------------------------------------------

def _available() -> list[str]:
    with open("/proc/sys/net/ipv4/tcp_available_congestion_control") as f:
        return f.read().split()


def _rename(spec, map_name: str, new: str) -> None:
    """Give struct_ops map ``map_name`` another ``name`` member (edited before load)."""
    m = spec.maps[map_name]
    t = spec.btf[m.struct_ops.type_id]
    off = next(mb for mb in t.members if mb.name == "name").offset_bits // 8
    data = bytearray(m.data)
    data[off:off + 16] = new.encode().ljust(16, b"\0")
    m.data = bytes(data)


def _transfer(ca: str, nbytes: int) -> str:
    """Send ``nbytes`` over loopback TCP with congestion control ``ca``; its name as the
    socket reports it."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        got = []

        def sink():
            conn, _ = srv.accept()
            with conn:
                n = 0
                while True:
                    b = conn.recv(1 << 16)
                    if not b:
                        break
                    n += len(b)
                got.append(n)

        th = threading.Thread(target=sink)
        th.start()
        with socket.socket() as c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, ca.encode())
            c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
            c.connect(srv.getsockname())
            used = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
            c.sendall(bytes(nbytes))
        th.join(30)
    assert got == [nbytes]
    return used.rstrip(b"\0").decode()


@pytest.fixture(scope="module")
def ca_names():
    tag = f"{os.getpid() % 100000}"
    return f"pt_ca_l{tag}", f"pt_ca_p{tag}"


def _ids(obj) -> set:
    return {("prog", p.id) for p in obj.programs.values()} | \
        {("map", m.id) for m in obj.maps.values()}


def _wait_freed(ids: set) -> None:
    """The kernel frees a struct_ops map (and the programs it holds) after an RCU tasks
    grace period, which can outlast the suite's leak check: wait for it, and so check
    that closing really let go of everything."""
    import time
    from pybpf import info
    for _ in range(200):
        live = {k: set(info.ids(k)) for k in ("prog", "map")}
        alive = {(k, i) for k, i in ids if i in live[k]}
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"still alive 10 s after close: {sorted(alive)}")


def _loaded(ca_bytes, names):
    spec = _spec(ca_bytes, "pt_ca")
    _rename(spec, "pt_ca", names[0])
    _rename(spec, "pt_ca_plain", names[1])
    return spec


@pytest.mark.kernel
@pytest.mark.needs_hook("struct_ops")
def test_bpf_congestion_control_carries_a_tcp_transfer(ca_bytes, ca_names):
    """The kernel-matrix guest runs this one too (kept small: TCG is slow)."""
    link_name, plain_name = ca_names
    spec = _loaded(ca_bytes, ca_names)
    try:
        obj = pybpf.load(spec)
    except errors.NotSupportedError as e:
        assert "struct_ops map 'pt_ca" in str(e) and "trampolines" in str(e)
        hook_absent()
        return
    ids = _ids(obj)
    with obj:
        assert "pt_ca_off" not in obj.maps and obj.maps["pt_ca"].type == MapType.STRUCT_OPS
        assert link_name not in _available()
        links = obj.attach()
        assert [ln.target for ln in links] == ["tcp_congestion_ops pt_ca",
                                               "tcp_congestion_ops pt_ca_plain"]
        assert {link_name, plain_name} <= set(_available())
        assert _transfer(link_name, 512 << 10) == link_name
        assert obj.bss.inits >= 1 and obj.bss.avoids > 0
    assert link_name not in _available() and plain_name not in _available()
    _wait_freed(ids)


@pytest.mark.kernel
def test_plain_struct_ops_map_and_a_name_clash(ca_bytes, ca_names):
    link_name, plain_name = ca_names
    spec = _loaded(ca_bytes, ca_names)
    ids = set()
    with pybpf.load(spec) as obj:
        ids |= _ids(obj)
        plain = obj.attach_struct_ops("pt_ca_plain")        # a map update, no link fd
        assert plain.fd is None and plain in obj.links
        assert plain_name in _available() and link_name not in _available()
        assert _transfer(plain_name, 1 << 20) == plain_name
        assert obj.bss.avoids > 0 and obj.bss.inits == 0    # it has no init callback
        obj.attach_struct_ops("pt_ca")
        assert obj.attach() == []               # both registered already: nothing new
        with pytest.raises(ValueError, match=r"pt_ca_init \(struct_ops/pt_ca_init\): "
                           r"obj.attach_struct_ops\(map\)"):
            obj.attach(["pt_ca_init"])
        # a second registration under the same names is refused in one line
        with pybpf.load(spec) as twin:
            ids |= _ids(twin)
            with pytest.raises(errors.KernelError, match="already has a "
                               "tcp_congestion_ops registered") as ei:
                twin.attach_struct_ops("pt_ca")
            assert "\n" not in str(ei.value)
            with pytest.raises(KeyError, match="struct_ops maps: .'pt_ca', 'pt_ca_plain'"):
                twin.attach_struct_ops("pt_ca_off")
        plain.close()                           # unregisters the plain map (map delete)
        plain.close()
        assert plain_name not in _available() and link_name in _available()
        with pytest.raises(errors.KernelError, match="registers a struct_ops map once"):
            obj.attach_struct_ops("pt_ca_plain")
    assert link_name not in _available()
    _wait_freed(ids)


@pytest.mark.kernel
def test_loading_a_struct_the_kernel_offers_no_struct_ops_for_says_so():
    spec = _spec(pybpf.compile(LAYOUTS), "pt_lay")
    for name, m in spec.maps.items():
        m.autocreate = name == "pt_nosuch"
    with pytest.raises(errors.NotFoundError) as ei:
        pybpf.load(spec)
    msg = str(ei.value)
    assert "\n" not in msg and "struct_ops map 'pt_nosuch'" in msg
    assert "offers no pt_no_such_ops struct_ops" in msg


# The same congestion control on the kernel's own types (vmlinux.h), which libbpf 1.1
# (Debian 12's bpftool) loads too: it knows plain .struct_ops maps, not .link ones.
PARITY = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;
__u64 avoids = 0;
SEC("struct_ops/pt_par_avoid")
void BPF_PROG(pt_par_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
    __sync_fetch_and_add(&avoids, 1);
    tcp_reno_cong_avoid(sk, ack, acked);
}
SEC("struct_ops/pt_par_ssthresh")
__u32 BPF_PROG(pt_par_ssthresh, struct sock *sk) { return tcp_reno_ssthresh(sk); }
SEC("struct_ops/pt_par_undo")
__u32 BPF_PROG(pt_par_undo, struct sock *sk) { return tcp_reno_undo_cwnd(sk); }
SEC(".struct_ops")
struct tcp_congestion_ops pt_par = {
    .cong_avoid = (void *)pt_par_avoid, .ssthresh = (void *)pt_par_ssthresh,
    .undo_cwnd = (void *)pt_par_undo, .flags = 0, .name = "pt_par",
};
char LICENSE[] SEC("license") = "GPL";
"""


def _registered(name: str) -> tuple[dict, dict]:
    """bpftool's dump of registered struct_ops map ``name`` with ids blanked, and the
    translated instructions of its programs by name."""
    import json
    import re
    import subprocess
    from pybpf import info
    from tests.test_object_load import _normalize
    out = subprocess.run(["bpftool", "-j", "struct_ops", "dump", "name", name],
                         capture_output=True, text=True, check=True).stdout
    progs = {}
    for prog_name, pid in re.findall(r"\) (\w+)/prog_id:(\d+)", out):
        with info.fd_by_id("prog", int(pid)) as fd:
            progs[prog_name] = _normalize(info.prog_xlated(fd.fileno()))
    out = re.sub(r'("(?:id|btf_id|btf_vmlinux_id)":)\d+', r"\g<1>0",
                 re.sub(r"prog_id:\d+", "prog_id:0", out))
    return json.loads(out), progs


@pytest.mark.kernel
def test_struct_ops_registers_what_libbpf_registers(tmp_path):
    """bpftool (libbpf) registers the object, then pybpf: bpftool's dumps of the two
    registered maps (value, programs per member, map attributes) and the kernel's
    translations of the programs are the same."""
    import subprocess
    data = pybpf.compile(PARITY)
    path = tmp_path / "par.o"
    path.write_bytes(data)
    subprocess.run(["bpftool", "struct_ops", "register", str(path)], check=True,
                   capture_output=True)
    try:
        theirs = _registered("pt_par")
    finally:
        subprocess.run(["bpftool", "struct_ops", "unregister", "name", "pt_par"],
                       check=True, capture_output=True)
    with pybpf.load(_spec(data, "pt_par")) as obj:
        ids = _ids(obj)
        obj.attach()
        mine = _registered("pt_par")
    _wait_freed(ids)
    assert mine[1] == theirs[1] and sorted(mine[1]) == ["pt_par_avoid", "pt_par_ssthresh",
                                                          "pt_par_undo"]
    assert mine[0] == theirs[0]


@pytest.mark.kernel
def test_a_struct_ops_link_swaps_its_map(ca_bytes, ca_names):
    """bpf_link__update_map: the registered congestion control switches to another
    object's callbacks without being unregistered."""
    link_name = ca_names[0]
    spec = _loaded(ca_bytes, ca_names)
    ids = set()
    with pybpf.load(spec) as first:
        ids |= _ids(first)
        link = first.attach_struct_ops("pt_ca")
        with pybpf.load(spec) as second:
            ids |= _ids(second)
            with pytest.raises(ValueError, match="only a .struct_ops.link map"):
                second.attach_struct_ops("pt_ca_plain", replace=link)
            assert second.attach_struct_ops("pt_ca", replace=link) is link
            assert _transfer(link_name, 1 << 20) == link_name
            assert second.bss.avoids > 0 and second.bss.inits >= 1
            assert first.bss.avoids == 0 and first.bss.inits == 0
        assert link_name in _available()        # the link holds the second map
    assert link_name not in _available()
    _wait_freed(ids)


@pytest.mark.kernel
def test_a_warm_load_replays_struct_ops_from_its_plan():
    """Loading bytes records a plan; the next load replays it (no ELF or BTF parsing)
    and registers the same congestion control."""
    name = f"pt_cw{os.getpid() % 100000}"
    data = pybpf.compile(CA.replace('"pt_ca_l"', f'"{name}"').replace(
        '"pt_ca_p"', f'"{name}p"'))
    ids = set()
    with pybpf.load(data, name="pt_cw") as cold:
        ids |= _ids(cold)
        assert cold._spec is not None
    with pybpf.load(data, name="pt_cw") as warm:
        ids |= _ids(warm)
        assert warm._spec is None and warm._plan is not None      # replayed
        assert sorted(warm._struct_ops) == ["pt_ca", "pt_ca_plain"]
        warm.attach()
        assert _transfer(name, 512 << 10) == name
        assert warm.bss.avoids > 0 and warm.bss.inits >= 1
    assert name not in _available()
    _wait_freed(ids)
