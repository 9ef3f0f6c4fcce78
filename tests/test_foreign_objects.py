"""Objects pybpf did not build: xdp-tools' shipped objects (same translated instructions as
libbpf, and xdp-filter's programs filtering real packets on a veth as xdp-filter configures
them), plus small objects of ours exercising what other loaders' test objects do (iproute2
maps, linked objects, sections libbpf does not know, maps initialised at load)."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

import pybpf
from pybpf import errors
from pybpf._sys.uapi import ProgType
from tests.test_links_net import _in_netns, _sh
from tests.test_object_load import _libbpf_xlated, _map_names, _normalize

pytestmark = pytest.mark.kernel

HERE = os.path.dirname(os.path.abspath(__file__))
XDP_TOOLS = "/usr/lib/x86_64-linux-gnu/bpf"     # Debian's xdp-tools (scripts/setup)
_FILTERS = [f"xdpfilt_{m}_{k}" for m in ("alw", "dny") for k in ("all", "eth", "ip", "tcp",
                                                                   "udp")]
LOADABLE = ["xdp-dispatcher", "xdpdump_xdp", "xsk_def_xdp_prog", "xsk_def_xdp_prog_5.3",
            *_FILTERS]


def _xdp_obj(name: str) -> str:
    path = os.path.join(XDP_TOOLS, name + ".o")
    if not os.path.exists(path):
        pytest.fail(f"{path} missing: install xdp-tools (scripts/setup does)")
    return path


@pytest.fixture
def pins(bpffs):
    """A pin root of our own for maps pinned by name (xdp-filter's), and removal of the
    pins libbpf (bpftool) made by name under /sys/fs/bpf."""
    from pybpf import bpffs as fs
    root = fs.ensure_mounted()
    before = set(os.listdir(root))
    mine = os.path.join(bpffs, f"foreign-{os.getpid()}")
    os.makedirs(mine, exist_ok=True)
    yield mine
    for name in os.listdir(mine):
        os.unlink(os.path.join(mine, name))
    os.rmdir(mine)
    for name in set(os.listdir(root)) - before:
        if os.path.isfile(os.path.join(root, name)):
            os.unlink(os.path.join(root, name))


def _same_as_libbpf(path: str, ref: dict, pin_root: str, **kw) -> int:
    assert "_error" not in ref, f"libbpf could not load {path}: {ref['_error'][-400:]}"
    with pybpf.load(path, pin_root=pin_root, **kw) as obj:
        assert obj.programs
        for pname, prog in obj.programs.items():
            assert _normalize(prog.xlated()) == ref[pname], f"{path}:{pname} differs"
            assert _map_names(prog) == ref["_maps", pname], f"{path}:{pname} map ids"
        return len(obj.programs)


@pytest.mark.parametrize("name", LOADABLE)
def test_xdp_tools_objects_match_libbpf(name, pins):
    path = _xdp_obj(name)
    ref = _libbpf_xlated(path, os.path.join(pins, "oracle"))
    assert _same_as_libbpf(path, ref, pins) >= 1


def test_xdpdump_needs_its_target_and_says_so_in_one_line(pins):
    """xdpdump's fentry/fexit programs name a placeholder target ('func') that xdpdump
    replaces before load: loaded as shipped, libbpf and pybpf both refuse it."""
    path = _xdp_obj("xdpdump_bpf")
    assert "_error" in _libbpf_xlated(path, os.path.join(pins, "oracle"))
    with pytest.raises(errors.PybpfError) as ei:
        pybpf.load(path, pin_root=pins)
    msg = str(ei.value)
    assert "\n" not in msg and "'func'" in msg and "fentry/func" in msg


# ---- xdp-filter's programs on real packets ------------------------------------------------

MAP_FLAG_SRC, MAP_FLAG_DST, MAP_FLAG_TCP, MAP_FLAG_UDP = 1, 2, 4, 8
COUNTER_SHIFT = 6           # xdp-filter counts hits in a map value's bits above the flags
XDP_DROP, XDP_PASS = 1, 2
A_IP, B_IP, B_IP2 = "10.79.0.1", "10.79.0.2", "10.79.0.3"
P_HIT, P_MISS = 4789, 4790
N = 12


@pytest.fixture
def link_pair():
    """ns A (10.79.0.1 on veth IA, where the filter goes) <-> ns B (10.79.0.2 and .3 on
    IB); static neighbours, since an allow-list filter drops ARP."""
    tag = os.getpid() % 100000
    a, b, ia, ib = f"pxa{tag}", f"pxb{tag}", f"xfa{tag}", f"xfb{tag}"
    _sh("ip", "netns", "add", a)
    _sh("ip", "netns", "add", b)
    try:
        _sh("ip", "link", "add", ia, "netns", a, "type", "veth", "peer", ib, "netns", b)
        _sh("ip", "-n", a, "addr", "add", f"{A_IP}/24", "dev", ia)
        _sh("ip", "-n", b, "addr", "add", f"{B_IP}/24", "dev", ib)
        _sh("ip", "-n", b, "addr", "add", f"{B_IP2}/24", "dev", ib)
        for ns, dev in ((a, ia), (b, ib)):
            _sh("ip", "-n", ns, "link", "set", dev, "up")
        mac_a = _sh("ip", "netns", "exec", a, "cat", f"/sys/class/net/{ia}/address").strip()
        mac_b = _sh("ip", "netns", "exec", b, "cat", f"/sys/class/net/{ib}/address").strip()
        _sh("ip", "-n", b, "neigh", "replace", A_IP, "lladdr", mac_a, "dev", ib, "nud",
            "permanent")
        for ip in (B_IP, B_IP2):
            _sh("ip", "-n", a, "neigh", "replace", ip, "lladdr", mac_b, "dev", ia, "nud",
                "permanent")
        yield a, b, ia
    finally:
        subprocess.run(["ip", "netns", "del", a], capture_output=True)
        subprocess.run(["ip", "netns", "del", b], capture_output=True)


def _sock(ns: str, bind: tuple[str, int]) -> socket.socket:
    back = _in_netns(ns)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(bind)
        return s
    finally:
        back()


def _received(s: socket.socket, expect: int) -> int:
    """Datagrams read from ``s``: waits for ``expect`` (up to 2 s), then a moment more so
    packets that should have been dropped would have shown up."""
    got, deadline, extra = 0, time.monotonic() + 2.0, None
    s.setblocking(False)
    while True:
        try:
            s.recv(2048)
            got += 1
            continue
        except BlockingIOError:
            pass
        now = time.monotonic()
        if got >= expect and extra is None:
            extra = now + 0.2
        if now > deadline or (extra is not None and now > extra):
            return got
        time.sleep(0.01)


def _stats(obj) -> dict[int, int]:
    """xdp_stats_map: packets per XDP action, summed over CPUs (struct xdp_stats_record)."""
    m = obj.maps["xdp_stats_map"]
    out = {}
    for action in (XDP_DROP, XDP_PASS):
        raw = m.lookup_raw(action)
        out[action] = sum(struct.unpack_from("<Q", raw, i * m._slot)[0]
                          for i in range(m.ncpus))
    return out


def _set_flags(m, key, flags: int) -> None:
    """What xdp-filter's map_set_flags() does: the same flags in every CPU's slot."""
    m.update(key, [flags] * m.ncpus)


def _hits(m, key) -> int:
    return sum(int.from_bytes(v, "little") >> COUNTER_SHIFT for v in m[key])


# xdpfilt_<policy>_<kind>: the policy is for unmatched packets (alw: pass them, the map's
# entries drop; dny: drop them, the map's entries pass), as xdp-filter's --policy.
# (object, map kind, key, flags, senders: (source ip, dst port, expect delivered))
CASES = {
    "xdpfilt_alw_udp": ("port", P_HIT, MAP_FLAG_DST | MAP_FLAG_UDP,
                        [(B_IP, P_HIT, False), (B_IP, P_MISS, True)]),
    "xdpfilt_dny_udp": ("port", P_HIT, MAP_FLAG_DST | MAP_FLAG_UDP,
                        [(B_IP, P_HIT, True), (B_IP, P_MISS, False)]),
    "xdpfilt_alw_ip": ("ipv4", B_IP2, MAP_FLAG_SRC,
                       [(B_IP2, P_HIT, False), (B_IP, P_MISS, True)]),
    "xdpfilt_dny_ip": ("ipv4", B_IP2, MAP_FLAG_SRC,
                       [(B_IP2, P_HIT, True), (B_IP, P_MISS, False)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_xdp_filter_programs_filter_real_packets(name, link_pair, pins):
    a, b, ia = link_pair
    kind, what, flags, senders = CASES[name]
    spec = pybpf.ObjectSpec.from_file(_xdp_obj(name))
    # inspection before load: what xdp-filter's own loader relies on
    assert spec.programs[name].section == "xdp"
    mname = "filter_ports" if kind == "port" else "filter_ipv4"
    assert spec.maps[mname].pinning == 1 and spec.maps["xdp_stats_map"].max_entries == 5
    with pybpf.load(spec, pin_root=pins) as obj:
        fmap = obj.maps[mname]
        key = socket.htons(what) if kind == "port" else \
            int.from_bytes(socket.inet_aton(what), "little")
        _set_flags(fmap, key, flags)
        assert obj.attach() == []          # an XDP program needs its interface named
        with pytest.raises(ValueError, match=r"attach_xdp\(iface\)"):
            obj.attach([name])
        back = _in_netns(a)
        try:
            link = obj.programs[name].attach_xdp(ia)
        finally:
            back()
        assert link in obj.links
        receivers = {p: _sock(a, (A_IP, p)) for p in (P_HIT, P_MISS)}
        try:
            for src, port, _ in senders:
                tx = _sock(b, (src, 0))
                with tx:
                    for i in range(N):
                        tx.sendto(b"pybpf %d" % i, (A_IP, port))
            got = {port: _received(receivers[port], N if ok else 0)
                   for _, port, ok in senders}
        finally:
            for s in receivers.values():
                s.close()
        for _, port, ok in senders:
            assert got[port] == (N if ok else 0), (name, port, got)
        stats = _stats(obj)
        if name.startswith("xdpfilt_alw"):
            assert stats[XDP_DROP] == N, stats       # only the packets matching the rule
            assert stats[XDP_PASS] >= N, stats
        else:     # everything unmatched is dropped: our packets and any IPv6 chatter
            assert stats[XDP_DROP] >= N and stats[XDP_PASS] == N, stats
        assert _hits(fmap, key) == N                  # the rule counted its N packets
    assert not os.listdir(pins) or set(os.listdir(pins)) <= {
        "filter_ports", "filter_ipv4", "filter_ipv6", "filter_ethernet", "xdp_stats_map"}


# ---- our own objects with other loaders' shapes -------------------------------------------

def _compile(name: str, *cflags: str) -> bytes:
    return pybpf.compile(os.path.join(HERE, "data", name), cflags=list(cflags))


def test_iproute2_maps_load_and_pin_by_name(pins):
    data = _compile("legacy_maps.bpf.c")
    spec = pybpf.ObjectSpec.from_bytes(data, name="legacy_maps")
    assert spec.maps["lg_pinned"].pinning == 1 and spec.maps["lg_plain"].pinning == 0
    with pybpf.load(spec, pin_root=pins) as obj:
        assert os.path.exists(os.path.join(pins, "lg_pinned"))
        assert not os.path.exists(os.path.join(pins, "lg_plain"))
        obj.maps["lg_pinned"].update(0, 5)
        with pybpf.load(data, pin_root=pins, name="legacy_maps") as again:  # reuses the pin
            assert again.maps["lg_pinned"].info().id == obj.maps["lg_pinned"].info().id
            assert obj.maps["lg_plain"].info().id != again.maps["lg_plain"].info().id


@pytest.mark.parametrize("flag,match", [
    ("-DBAD_TAIL", r"legacy map 'lg_bad': 4 bytes past struct bpf_map_def are not zero"),
    ("-DSTATIC_MAP", r"program 'lg_prog' insn \d+: no map at offset 72 of 'maps' "
                     r"\(a static map\?"),
])
def test_bad_legacy_maps_are_refused_in_one_line(flag, match):
    data = _compile("legacy_maps.bpf.c", flag)
    with pytest.raises(errors.ELFError, match=match) as ei:
        pybpf.load(data)
    assert "\n" not in str(ei.value)


def test_unknown_section_says_how_and_map_init_fills_slots():
    data = _compile("map_init_sections.bpf.c")
    with pytest.raises(errors.ELFError) as ei:
        pybpf.load(data)
    msg = str(ei.value)
    assert "\n" not in msg and "'socket/tail'" in msg and "sections=" in msg
    with pybpf.load(data, sections={"mi_tail": "socket", "mi_main": "socket"}) as obj:
        tail_id = obj.programs["mi_tail"].info().id
        assert int.from_bytes(obj.maps["mi_jmp"].lookup_raw(1), "little") == tail_id
        assert obj.maps["mi_jmp"].lookup_raw(0) is None
        inner = int.from_bytes(obj.maps["mi_outer"].lookup_raw(1), "little")
        assert inner == obj.maps["mi_inner"].info().id
        # the tail call reaches mi_tail: a test run returns its 42
        assert obj.programs["mi_main"].test_run(bytes(64)).retval == 42


def test_linked_objects_match_libbpf_and_halves_say_link_first(tmp_path, pins):
    halves = []
    for name in ("linked_a", "linked_b"):
        out = tmp_path / f"{name}.bpf.o"
        out.write_bytes(_compile(f"{name}.bpf.c"))
        halves.append(str(out))
    with pytest.raises(errors.ELFError) as ei:
        pybpf.load(halves[0])
    assert "'lk_only2' is defined nowhere" in str(ei.value) and "bpftool gen object" in \
        str(ei.value)
    # a function: also the build's own slip (PT_REGS_RC with no __TARGET_ARCH_x86)
    assert str(ei.value).startswith("function 'lk_only2'") and "implicitly" in str(ei.value)
    linked = str(tmp_path / "linked.bpf.o")
    subprocess.run(["bpftool", "gen", "object", linked, *halves], check=True,
                   capture_output=True)
    ref = _libbpf_xlated(linked, os.path.join(pins, "oracle"))
    assert _same_as_libbpf(linked, ref, pins) == 2
    with pybpf.load(linked, pin_root=pins) as obj:
        assert set(obj.maps) >= {"lk_map_w", "lk_map_s", "lk_map_ww", "lk_map_1", "lk_map_2"}
        # skb->len is 64 less the Ethernet header; lk_only2 reads linked_a's .data (7);
        # the strong lk_w (linked_b: x + 2) and lk_s (linked_a: x + 3) win over the weak;
        # each half's static lk_twin stays its own (linked_a's: x + 1000), as in libbpf
        assert obj.programs["lk_entry1"].test_run(bytes(64)).retval == 50 * 2 + 7 + 3 + 5 \
            + 50 + 1000
        twins = sorted(n for n in obj.spec.subprograms if n.startswith("lk_twin"))
        assert twins[0] == "lk_twin" and twins[1].startswith("lk_twin@"), twins


def test_scap_style_legacy_probe_loads_and_tail_calls_its_fillers():
    """Falco's legacy probe's shape (libscap loads it; libbpf 0.8+ refuses its static
    entry programs): with SEC("maps") the section is the program, static or not.  The
    dispatcher on raw_tracepoint sys_enter tail-calls the filler put in the program array
    as libscap does; N getppid() calls of ours run both N times."""
    spec = pybpf.ObjectSpec.from_bytes(_compile("scap_legacy.bpf.c"), name="scap_legacy")
    assert {"bpf_sl_getppid", "bpf_sl_sys_enter"} <= set(spec.programs)
    with pybpf.load(spec) as obj:
        obj.maps["sl_settings"].update(0, os.getpid())
        filler = obj.programs["bpf_sl_getppid"]
        obj.maps["sl_tail"].update(1, filler.fd)         # a program, its FD or the number
        obj.maps["sl_tail"].update(2, filler)
        assert obj.maps["sl_tail"].lookup_raw(1) == obj.maps["sl_tail"].lookup_raw(2) == \
            filler.info().id.to_bytes(4, "little")
        obj.programs["bpf_sl_sys_enter"].attach_raw_tracepoint("sys_enter")
        for _ in range(25):
            os.getppid()
        assert [int.from_bytes(obj.maps["sl_counts"].lookup_raw(i), "little")
                for i in (0, 1)] == [25, 25]


def test_static_entry_programs_without_legacy_maps_are_refused_in_one_line():
    src = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n" \
        "SEC(\"socket\") static int st_prog(struct __sk_buff *s) { return 0; }\n" \
        "char LICENSE[] SEC(\"license\") = \"GPL\";\n"
    with pytest.raises(errors.ELFError, match="'st_prog' in 'socket' is static") as ei:
        pybpf.load(pybpf.compile(src))
    assert "\n" not in str(ei.value)


ONE_HOOK = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
SEC("tp_btf/sys_exit") int oh_a(void *ctx) { return 0; }
SEC("tp_btf/sys_exit") int oh_b(void *ctx) { return 0; }
SEC("tp_btf/sys_exit") int oh_c(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""


def test_programs_on_one_hook_search_the_kernel_btf_once(monkeypatch):
    """Falco's probe: 189 tp_btf programs on a few hooks; each hook's BTF id is looked up
    once per load (a search of the kernel's string table costs ~0.5 ms)."""
    from pybpf.btf.spec import Spec
    monkeypatch.setenv("PYBPF_NO_PLAN", "1")          # a full load, not a recorded replay
    data = pybpf.compile(ONE_HOOK)
    seen = []
    find = Spec.find
    monkeypatch.setattr(Spec, "find", lambda self, name, kind=None:
                        seen.append(name) or find(self, name, kind))
    with pybpf.load(data) as obj:
        assert all(obj.programs[n].fd is not None for n in ("oh_a", "oh_b", "oh_c"))
    assert seen.count("btf_trace_sys_exit") == 1


SAME_RELOS = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("tp_btf/sys_exit") int sr_a(void *ctx)
{ return BPF_CORE_READ(bpf_get_current_task_btf(), pid); }
SEC("tp_btf/sys_exit") int sr_b(void *ctx)
{ return BPF_CORE_READ(bpf_get_current_task_btf(), pid) + 1; }
SEC("tp_btf/sys_exit") int sr_c(void *ctx)
{ return BPF_CORE_READ(bpf_get_current_task_btf(), tgid); }
char LICENSE[] SEC("license") = "GPL";
"""


def test_identical_core_relocations_resolve_once(monkeypatch, tmp_path):
    """Falco's probe repeats the same few hundred field accesses 17,000 times: a
    relocation is resolved once per (type, access, kind) in a load, and each program
    still gets its fix (the load verifies all three)."""
    from pybpf.object import core
    monkeypatch.setenv("PYBPF_NO_PLAN", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))     # no fixes from an earlier run
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(SAME_RELOS))
    relos = [r for rs in spec.btf_ext.core_relos.values() for r in rs]
    distinct = {(r.type_id, r.access, int(r.kind)) for r in relos}
    assert len(relos) > len(distinct)
    calls = []
    resolve = core.resolve
    monkeypatch.setattr(core, "resolve", lambda *a, **k: calls.append(a[1]) or
                        resolve(*a, **k))
    with pybpf.load(spec) as obj:
        assert all(obj.programs[n].fd is not None for n in ("sr_a", "sr_b", "sr_c"))
    assert len(calls) == len(distinct)


RINGBUF_ARRAY = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
struct rb { __uint(type, BPF_MAP_TYPE_RINGBUF); };        /* sized by the loader */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__type(value, __u32);
	__array(values, struct rb);
} ra_rings SEC(".maps");
SEC("tp_btf/sys_exit") int ra_prog(void *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *rb = bpf_map_lookup_elem(&ra_rings, &cpu);
	return rb ? bpf_ringbuf_output(rb, &cpu, sizeof(cpu), 0) : 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_unsized_ring_buffer_array_says_which_spec_field_to_set():
    """Falco's per-CPU ring buffers: an array of ring buffers whose inner template has no
    size, set by its loader; left unset, the refusal names the outer map and the field."""
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(RINGBUF_ARRAY))
    spec.maps["ra_rings"].max_entries = 2
    with pytest.raises(errors.KernelError) as ei:
        pybpf.load(spec)
    assert "\n" not in str(ei.value) and "power of 2" in str(ei.value) and \
        "spec.maps['ra_rings'].inner" in str(ei.value)
    spec.maps["ra_rings"].inner.max_entries = 4096
    with pybpf.load(spec) as obj:
        assert obj.programs["ra_prog"].fd is not None


NO_LICENSE = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
SEC("socket")
int nl_plain(struct __sk_buff *skb) { return skb->len + 1; }
#ifdef GPL_HELPER
SEC("tp_btf/sys_exit")
int nl_gpl(void *ctx) { return bpf_get_current_task_btf() != 0; }
#endif
"""


def test_object_without_license_loads_as_libbpf_does(tmp_path, pins):
    """No SEC("license") (each of Falco's modern_bpf files before the link adds
    license.bpf.c): the programs load with an empty license, as libbpf loads them, so a
    GPL-only helper is refused (pybpf used to declare "GPL" for the object), in one line
    that says what is missing."""
    plain = tmp_path / "nolic.bpf.o"
    plain.write_bytes(pybpf.compile(NO_LICENSE))
    ref = _libbpf_xlated(str(plain), os.path.join(pins, "oracle"))
    assert _same_as_libbpf(str(plain), ref, pins) == 1
    with pybpf.load(str(plain)) as obj:
        assert obj.programs["nl_plain"].test_run(bytes(64)).retval == 51
    gpl = tmp_path / "nolic_gpl.bpf.o"
    gpl.write_bytes(pybpf.compile(NO_LICENSE, cflags=["-DGPL_HELPER"]))
    assert "_error" in _libbpf_xlated(str(gpl), os.path.join(pins, "oracle"))
    with pytest.raises(errors.VerifierError) as ei:
        pybpf.load(str(gpl))
    msg = str(ei.value).splitlines()[0]
    assert "'nl_gpl'" in msg and "non-GPL compatible" in msg and \
        'the object declares no license: add char LICENSE[] SEC("license")' in msg


def test_big_endian_objects_are_refused_in_one_line():
    data = bytearray(_compile("legacy_maps.bpf.c"))
    data[5] = 2                                   # EI_DATA = ELFDATA2MSB
    with pytest.raises(errors.ELFError, match="not a little-endian ELF") as ei:
        pybpf.load(bytes(data))
    assert "\n" not in str(ei.value)


ANON_ARG = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
__noinline int anon_arg(int) { return 1; }
SEC("socket")
int anon_prog(struct __sk_buff *skb) { return anon_arg(skb->len); }
char LICENSE[] SEC("license") = "GPL";
"""


def test_btf_the_kernel_rejects_warns_in_one_line_and_loads_without():
    """A global function with an unnamed parameter (clang -O0 emits such BTF too): the
    kernel refuses the object's BTF; like libbpf, the object loads without it, and the
    warning is the kernel's verdict, not a dump of every type."""
    with pytest.warns(UserWarning) as rec:
        with pybpf.load(pybpf.compile(ANON_ARG)) as obj:
            assert obj.programs["anon_prog"].test_run(bytes(64)).retval == 1
    msg = str(rec[0].message)
    assert "\n" not in msg and "anon_arg" in msg and "Invalid arg#1" in msg


STRUCT_OPS = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
SEC("struct_ops/pt_ops_init")
int pt_ops_init(void *ctx) { return 0; }
SEC("socket")
int pt_plain(struct __sk_buff *skb) { return 7; }
char LICENSE[] SEC("license") = "GPL";
"""


def test_a_struct_ops_program_no_map_names_is_refused_in_one_line():
    """As libbpf ("isn't referenced anywhere"): a callback of no struct_ops map has no
    kernel member to load against (tests/test_object_structops.py loads real ones)."""
    data = pybpf.compile(STRUCT_OPS)
    with pytest.raises(errors.ELFError) as ei:
        pybpf.load(data)
    msg = str(ei.value)
    assert "\n" not in msg and "'pt_ops_init' ('struct_ops/pt_ops_init') is the callback " \
        "of no created struct_ops map" in msg
    with pybpf.load(data, programs=["pt_plain"]) as obj:       # the rest loads
        assert obj.programs["pt_plain"].test_run(bytes(64)).retval == 7


KCONFIG_UNSET = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
extern bool CONFIG_PYBPF_NEVER_SET __kconfig WEAK;
SEC("socket")
int pt_unset(struct __sk_buff *skb) { return CONFIG_PYBPF_NEVER_SET ? 1 : 2; }
char LICENSE[] SEC("license") = "GPL";
"""


def test_strong_kconfig_extern_must_be_set_as_in_libbpf(tmp_path, pins):
    strong = pybpf.compile(KCONFIG_UNSET.replace("WEAK", ""))
    path = tmp_path / "unset.bpf.o"
    path.write_bytes(strong)
    ref = _libbpf_xlated(path, os.path.join(pins, "oracle"))
    assert "CONFIG_PYBPF_NEVER_SET" in ref["_error"]          # libbpf refuses it too
    with pytest.raises(errors.NotFoundError) as ei:
        pybpf.load(strong)
    msg = str(ei.value)
    assert "\n" not in msg and "'CONFIG_PYBPF_NEVER_SET' (strong) is not set" in msg
    weak = pybpf.compile(KCONFIG_UNSET.replace("WEAK", "__weak"))
    with pybpf.load(weak) as obj:                               # weak: reads n
        assert obj.programs["pt_unset"].test_run(bytes(64)).retval == 2


RINGBUF_VALUE = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
struct event { __u32 pid; __u32 marker; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16);
         __type(value, struct event); } pt_rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); } pt_perf SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
         __type(value, struct event); } pt_perf_typed SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid")
int pt_rb_prog(void *ctx)
{
    struct event e = { bpf_get_current_pid_tgid() >> 32, 0x5eed };
    bpf_ringbuf_output(&pt_rb, &e, sizeof(e), 0);
    bpf_perf_event_output(ctx, &pt_perf, BPF_F_CURRENT_CPU, &e, sizeof(e));
    bpf_perf_event_output(ctx, &pt_perf_typed, BPF_F_CURRENT_CPU, &e, sizeof(e));
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_record_types_named_on_event_maps_load_as_cilium_ebpf_and_aya_load_them():
    """cilium/ebpf's examples (bpf2go) and aya's tests name an event map's record type
    with __type(value, struct event) and leave a perf array's sizes out; libbpf says
    EINVAL, their loaders drop the size and keep the type: so does pybpf, and the type
    decodes the records (getppid() calls of ours, seen through all three maps)."""
    from pybpf.perfbuf import PerfBuffer
    from pybpf.ringbuf import RingBuffer
    obj_bytes = pybpf.compile(RINGBUF_VALUE)
    spec = pybpf.ObjectSpec.from_bytes(obj_bytes)
    rb, perf, typed = (spec.maps[n] for n in ("pt_rb", "pt_perf", "pt_perf_typed"))
    assert (rb.key_size, rb.value_size) == (0, 0) and rb.value_type_id
    assert (perf.key_size, perf.value_size) == (4, 4) == (typed.key_size, typed.value_size)
    with pybpf.load(spec) as obj:
        Event = pybpf.ctype("struct event", obj=obj)
        obj.attach()
        with RingBuffer(obj.maps["pt_rb"]) as ring, PerfBuffer(obj.maps["pt_perf"]) as pb, \
                PerfBuffer(obj.maps["pt_perf_typed"]) as pbt:
            for _ in range(3):
                os.getppid()
            mine = [e for e in ring.read(1000, decode=Event) if e.pid == os.getpid()]
            assert len(mine) == 3 and {e.marker for e in mine} == {0x5eed}
            for buf in (pb, pbt):
                got = [e for _, e in buf.read(1000, decode=Event) if e.pid == os.getpid()]
                assert len(got) == 3 and {e.marker for e in got} == {0x5eed}


def test_map_the_kernel_refuses_with_bare_einval_is_explained():
    """A ring buffer given a value_size (not a type: no loader drops that): the kernel
    says only EINVAL, pybpf names the rule."""
    src = RINGBUF_VALUE.replace("__type(value, struct event); } pt_rb",
                                "__uint(value_size, 8); } pt_rb")
    with pytest.raises(errors.KernelError) as ei:
        pybpf.load(pybpf.compile(src))
    msg = str(ei.value)
    assert "\n" not in msg and "map 'pt_rb' (ringbuf): a ring buffer takes no key or value" \
        in msg


KCONFIG_NAMES = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
extern int NAME __kconfig __weak;
SEC("socket")
int pt_names(struct __sk_buff *skb) { return NAME + 3; }
char LICENSE[] SEC("license") = "GPL";
"""


def test_kconfig_names_follow_libbpfs_rules():
    """aya's kconfig test objects: a weak name that is neither CONFIG_* nor LINUX_* is
    refused (libbpf: "unrecognized virtual extern"); a weak unknown LINUX_* reads 0."""
    with pytest.raises(errors.NotFoundError, match="'UNKNOWN_OPTIONAL' is unknown"):
        pybpf.load(pybpf.compile(KCONFIG_NAMES.replace("NAME", "UNKNOWN_OPTIONAL")))
    src = KCONFIG_NAMES.replace("NAME", "LINUX_HAS_PYBPF_FUTURE")
    with pybpf.load(pybpf.compile(src)) as obj:
        assert obj.programs["pt_names"].test_run(bytes(64)).retval == 3


FREPLACE = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
__noinline int pt_sub(int x) { volatile int r = x; return r; }
SEC("socket")
int pt_main(struct __sk_buff *skb) { return pt_sub(4); }
SEC("freplace/pt_sub")
int pt_repl(int x) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""


def test_freplace_without_a_target_program_says_so():
    """cilium's freplace object: an freplace program replaces a function of another BPF
    program; pybpf said the kernel had no such function (true, and beside the point)."""
    data = pybpf.compile(FREPLACE)
    with pytest.raises(errors.PybpfError) as ei:
        pybpf.load(data)
    msg = str(ei.value)
    assert "\n" not in msg and "replaces function 'pt_sub' of another loaded BPF program" \
        in msg and "set_attach_target('pt_repl', program)" in msg
    with pybpf.load(data, programs=["pt_main"]) as obj:
        assert obj.programs["pt_main"].test_run(bytes(64)).retval == 4


@pytest.mark.parametrize("flag", ["", "-DSHORT_ELF_MAP"])
def test_libbpf0_era_objects_load_as_their_authors_loaded_them(flag, pins):
    """samples/bpf-style tutorials: legacy SEC("maps") and SEC("xdp_count")-style names,
    which libbpf 0.x typed by prefix (libbpf 1.x refuses such objects whole); and an older
    iproute2's 28-byte struct bpf_elf_map, which tc zero-fills to its 36 bytes."""
    data = _compile("legacy_sections.bpf.c", *([flag] if flag else []))
    spec = pybpf.ObjectSpec.from_bytes(data, name="legacy_sections")
    types = {n: p.type for n, p in spec.programs.items()}
    assert types == {"lx_xdp": ProgType.XDP, "lx_sock": ProgType.SOCKET_FILTER,
                     "lx_cls": ProgType.SCHED_CLS}
    assert spec.maps["lx_counts"].pinning == (1 if flag else 0)
    with pybpf.load(spec, pin_root=pins) as obj:
        assert os.path.exists(os.path.join(pins, "lx_counts")) == bool(flag)
        for _ in range(3):
            assert obj.programs["lx_xdp"].test_run(bytes(64)).retval == 2    # XDP_PASS
        # legacy maps carry no BTF: raw values
        assert obj.maps["lx_counts"].lookup_raw(0) == (3).to_bytes(8, "little")
        assert obj.maps["lx_seen"].lookup_raw(0) == (1).to_bytes(4, "little")
        assert obj.programs["lx_cls"].test_run(bytes(64)).retval == 0


def test_go_loaders_map_sections_are_refused_in_one_line():
    """SEC("maps/<name>") (gobpf, ebpf-manager): libbpf refuses it ("bad map relo"); pybpf
    too, naming the map, the section and where maps go."""
    data = _compile("legacy_sections.bpf.c", "-DGO_MAP_SECTION")
    with pytest.raises(errors.ELFError, match=r"relocation against 'lx_seen' in unsupported "
                       r"section 'maps/lx_seen' \(a map in a section of its own") as ei:
        pybpf.ObjectSpec.from_bytes(data)
    assert "\n" not in str(ei.value)
