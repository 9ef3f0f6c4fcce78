"""XDP and socket filters firing on real traffic (veth pair between namespaces, loopback)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

import pybpf
from pybpf import errors, info
from pybpf.links import socket as socklink
from pybpf.links import cgroup, tc, xdp
from pybpf._sys.uapi import AttachType

pytestmark = pytest.mark.kernel

SRC = r'''
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2);
         __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
const volatile int drop = 0;
SEC("xdp")
int pt_xdp(struct xdp_md *ctx)
{
    __u32 k = 0;
    __u64 *n = bpf_map_lookup_elem(&counts, &k);
    if (n)
        __sync_fetch_and_add(n, 1);
    return drop ? XDP_DROP : XDP_PASS;
}
SEC("tc")
int pt_tc(struct __sk_buff *skb)
{
    __u32 k = 1;
    __u64 *n = bpf_map_lookup_elem(&counts, &k);
    if (n)
        __sync_fetch_and_add(n, 1);
    return drop ? 2 : 0;   /* TC_ACT_SHOT : TC_ACT_OK */
}
SEC("cgroup_skb/egress")
int pt_cg_egress(struct __sk_buff *skb)
{
    return drop ? 0 : 1;
}
SEC("socket")
int pt_sock(struct __sk_buff *skb)
{
    return drop ? 0 : skb->len;
}
char LICENSE[] SEC("license") = "GPL";
'''


def _sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def veth():
    """ns pt_a (10.77.0.1/veth pta) <-> ns pt_b (10.77.0.2/veth ptb)."""
    a, b = f"pta{os.getpid() % 10000}", f"ptb{os.getpid() % 10000}"
    _sh("ip", "netns", "add", a)
    _sh("ip", "netns", "add", b)
    try:
        _sh("ip", "link", "add", "va", "netns", a, "type", "veth", "peer", "vb", "netns", b)
        _sh("ip", "-n", a, "addr", "add", "10.77.0.1/24", "dev", "va")
        _sh("ip", "-n", b, "addr", "add", "10.77.0.2/24", "dev", "vb")
        for ns, dev in ((a, "va"), (b, "vb")):
            _sh("ip", "-n", ns, "link", "set", dev, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        subprocess.run(["ip", "netns", "del", a], capture_output=True)
        subprocess.run(["ip", "netns", "del", b], capture_output=True)


def _udp_delivered(a: str, b: str, n: int = 3) -> bool:
    """Send n datagrams from ns b to 10.77.0.1 in ns a; True if any arrived."""
    back = _in_netns(a)
    try:
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # lives in ns a from now on
    finally:
        back()
    try:
        rx.bind(("10.77.0.1", 0))
        rx.settimeout(1.0)
        port = rx.getsockname()[1]
        code = ("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                f"for _ in range({n}):\n s.sendto(b'x',('10.77.0.1',{port})); time.sleep(0.05)")
        subprocess.run(["ip", "netns", "exec", b, sys.executable, "-c", code], check=True,
                       capture_output=True)
        try:
            rx.recv(16)
            return True
        except socket.timeout:
            return False
    finally:
        rx.close()


def _load(drop: bool):
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(SRC), name="pt_net")
    spec.maps[".rodata"].set_var("drop", int(drop))
    return pybpf.load(spec)


_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def _in_netns(ns: str):
    """Enter a network namespace (os.setns needs Python 3.12); returns a restore function."""
    me = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(target)
    finally:
        os.close(target)

    def back():
        _setns(me)
        os.close(me)
    return back


@pytest.mark.parametrize("mode", ["generic", "native"])   # veth's driver has native XDP
@pytest.mark.parametrize("drop", [False, True])
def test_xdp_counts_and_passes_or_drops(veth, drop, mode):
    a, b = veth
    with _load(drop) as obj:
        back = _in_netns(a)
        try:
            link = xdp.attach(obj.programs["pt_xdp"], "va", mode=mode)
        finally:
            back()
        with link:
            shown = _sh("ip", "-n", a, "-d", "link", "show", "va")
            # iproute2 names the attach mode: "xdpgeneric" (skb) or "xdp" (driver)
            assert ("xdpgeneric" in shown) is (mode == "generic") and "xdp" in shown
            assert _udp_delivered(a, b) is (not drop)
            # every frame reaching va passed through the program (ARP included)
            assert int.from_bytes(obj.maps["counts"][0], "little") >= 1
            link_id = link.id
        assert link_id not in {ln.id for ln in info.list_objects("link")}
        assert _udp_delivered(a, b)   # traffic flows again once detached


def test_xdp_missing_interface():
    with _load(False) as obj:
        with pytest.raises(errors.NotFoundError, match="nosuchdev0"):
            xdp.attach(obj.programs["pt_xdp"], "nosuchdev0")


@pytest.mark.parametrize("drop", [False, True])
def test_socket_filter_drops_or_keeps(drop):
    with _load(drop) as obj:
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rx.bind(("127.0.0.1", 0))
            rx.settimeout(0.5)
            with socklink.attach(obj.programs["pt_sock"], rx):
                tx.sendto(b"ping", rx.getsockname())
                if drop:
                    with pytest.raises(socket.timeout):
                        rx.recv(100)
                else:
                    assert rx.recv(100) == b"ping"
            tx.sendto(b"again", rx.getsockname())   # detached: always delivered
            assert rx.recv(100) == b"again"
        finally:
            rx.close()
            tx.close()


@pytest.mark.parametrize("drop", [False, True])
def test_tc_netlink_fallback_counts_drops_and_cleans_up(veth, drop):
    """clsact + cls_bpf over rtnetlink, the path for kernels without tcx."""
    a, b = veth
    with _load(drop) as obj:
        back = _in_netns(a)
        try:
            link = tc.attach(obj.programs["pt_tc"], "va", "ingress", mode="netlink")
        finally:
            back()
        assert link.kind == "tc"
        shown = _sh("ip", "netns", "exec", a, "tc", "filter", "show", "dev", "va", "ingress")
        assert "direct-action" in shown and "pt_tc" in shown
        with link:
            assert _udp_delivered(a, b) is (not drop)
            assert int.from_bytes(obj.maps["counts"][1], "little") >= 1
        assert _udp_delivered(a, b)
        assert "clsact" not in _sh("ip", "netns", "exec", a, "tc", "qdisc", "show", "dev", "va")


@pytest.mark.parametrize("drop", [False, True])
def test_tcx_ingress_counts_and_drops(veth, drop):
    a, b = veth
    with _load(drop) as obj:
        back = _in_netns(a)
        try:
            link = tc.attach(obj.programs["pt_tc"], "va", "ingress")
        finally:
            back()
        with link:
            assert _udp_delivered(a, b) is (not drop)
            assert int.from_bytes(obj.maps["counts"][1], "little") >= 1
        assert _udp_delivered(a, b)


@pytest.mark.parametrize("drop", [False, True])
def test_cgroup_skb_egress(drop):
    cg = os.path.join(cgroup.cgroup2_root(), f"pybpf-net-{os.getpid()}")
    os.mkdir(cg)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(1.0)
        port = rx.getsockname()[1]
        code = ("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                f"s.sendto(b'x',('127.0.0.1',{port}))")

        def send_from_cgroup() -> bool:
            def enter():
                with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            # a dropped egress datagram fails the sender with EPERM
            r = subprocess.run([sys.executable, "-c", code], preexec_fn=enter,
                               capture_output=True, text=True)
            if r.returncode:
                assert "PermissionError" in r.stderr, r.stderr
                return False
            try:
                rx.recv(16)
                return True
            except socket.timeout:
                return False
        with _load(drop) as obj:
            with cgroup.attach(obj.programs["pt_cg_egress"], cg, AttachType.CGROUP_INET_EGRESS):
                assert send_from_cgroup() is (not drop)
            assert send_from_cgroup()
    finally:
        rx.close()
        os.rmdir(cg)


NETHOOKS = r'''
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#define NF_ACCEPT 1
const volatile __u16 port = 0;
__u64 nf_seen, lookups, msgs, msg_bytes;
struct { __uint(type, BPF_MAP_TYPE_SOCKMAP); __uint(max_entries, 2);
         __type(key, __u32); __type(value, __u32); } socks SEC(".maps");
SEC("netfilter")
int pt_nf(struct bpf_nf_ctx *ctx)
{
    struct sk_buff *skb = ctx->skb;
    struct iphdr iph;
    struct udphdr uh;
    if (bpf_probe_read_kernel(&iph, sizeof(iph), skb->head + skb->network_header) ||
        iph.protocol != IPPROTO_UDP ||
        bpf_probe_read_kernel(&uh, sizeof(uh), skb->head + skb->network_header + iph.ihl * 4))
        return NF_ACCEPT;
    if (uh.dest == bpf_htons(port))
        __sync_fetch_and_add(&nf_seen, 1);
    return NF_ACCEPT;
}
SEC("sk_lookup")
int pt_lookup(struct bpf_sk_lookup *ctx)
{
    if (ctx->local_port != port)
        return SK_PASS;
    __sync_fetch_and_add(&lookups, 1);
    return SK_DROP;
}
SEC("sk_msg")
int pt_msg(struct sk_msg_md *msg)
{
    __sync_fetch_and_add(&msgs, 1);
    __sync_fetch_and_add(&msg_bytes, msg->size);
    return SK_PASS;
}
char LICENSE[] SEC("license") = "GPL";
'''


@pytest.fixture(scope="module")
def nethooks():
    return pybpf.compile(NETHOOKS)


def test_netfilter_link_counts_local_input(nethooks):
    """Only datagrams to the test's own port are counted (NF_ACCEPT for all), at ipv4
    input: 30 sent over loopback, 30 seen, none after the object closes."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        with pybpf.load(nethooks, name="pt_nf", variables={"port": port},
                        programs=["pt_nf"]) as obj:
            with pytest.raises(ValueError, match=r"attach_netfilter\('ipv4' or 'ipv6'"):
                obj.attach(["pt_nf"])
            link = obj.programs["pt_nf"].attach_netfilter("ipv4", "input", priority=-128)
            assert link in obj.links and link.info().type_name == "netfilter"
            for _ in range(30):
                tx.sendto(b"x", ("127.0.0.1", port))
            for _ in range(30):
                rx.recv(8)
            assert obj.bss.nf_seen == 30
            with pytest.raises(ValueError, match="hook must be one of"):
                obj.programs["pt_nf"].attach_netfilter("ipv4", "sideways")
    finally:
        rx.close()
        tx.close()


def test_sk_lookup_on_this_netns_drops_then_not(nethooks):
    srv = socket.socket()
    try:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        with pybpf.load(nethooks, name="pt_lookup", variables={"port": port},
                        programs=["pt_lookup"]) as obj:
            link = obj.programs["pt_lookup"].attach_netns()
            assert link.kind == "netns" and link in obj.links
            with socket.socket() as c, pytest.raises(ConnectionRefusedError):
                c.connect(("127.0.0.1", port))          # the listener is not found
            assert obj.bss.lookups == 1
            with pytest.raises(errors.NotFoundError, match="no network namespace"):
                obj.programs["pt_lookup"].attach_netns("/run/netns/pt-no-such-netns")
        with socket.socket() as c:
            c.connect(("127.0.0.1", port))             # closed with the object
    finally:
        srv.close()


def test_sk_msg_on_a_sockmap_sees_each_send(nethooks):
    srv = socket.socket()
    try:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        a = socket.create_connection(srv.getsockname())
        b, _ = srv.accept()
        b.settimeout(5)
        with a, b, pybpf.load(nethooks, name="pt_msg", programs=["pt_msg"]) as obj:
            obj.programs["pt_msg"].attach_sockmap(obj.maps["socks"])
            obj.maps["socks"][0] = a
            for _ in range(3):
                a.send(b"hello")
            got = b""
            while len(got) < 15:
                got += b.recv(64)
            assert got == b"hello" * 3
            assert (obj.bss.msgs, obj.bss.msg_bytes) == (3, 15)
    finally:
        srv.close()
