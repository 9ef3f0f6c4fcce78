"""pybpf firewall on real traffic: namespaces joined by a veth pair, a flood of spoofed
sources (tests/data/fwflood.c, AF_PACKET) while a legitimate client keeps a TCP
connection and pings, live rule swaps under traffic, and the CLI's pinned lifecycle."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from pybpf.net import firewall as F
from tests.netfw import collect
from tests.test_links_net import _in_netns, _sh

pytestmark = pytest.mark.kernel

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")


@pytest.fixture(scope="module")
def fwflood(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("fwflood") / "fwflood")
    subprocess.run(["gcc", "-O2", "-o", out, os.path.join(HERE, "data", "fwflood.c")],
                   check=True, capture_output=True)
    return out


@pytest.fixture
def pair():
    """ns A (10.78.0.1, fd78::1 on veth IA) <-> ns B (10.78.0.2, fd78::2 on veth IB);
    the firewall goes on IA.  Unique names: pins are per interface name."""
    tag = os.getpid() % 100000
    a, b, ia, ib = f"pfa{tag}", f"pfb{tag}", f"fwa{tag}", f"fwb{tag}"
    _sh("ip", "netns", "add", a)
    _sh("ip", "netns", "add", b)
    try:
        _sh("ip", "link", "add", ia, "netns", a, "type", "veth", "peer", ib, "netns", b)
        _sh("ip", "-n", a, "addr", "add", "10.78.0.1/24", "dev", ia)
        _sh("ip", "-n", b, "addr", "add", "10.78.0.2/24", "dev", ib)
        _sh("ip", "-n", a, "addr", "add", "fd78::1/64", "dev", ia, "nodad")
        _sh("ip", "-n", b, "addr", "add", "fd78::2/64", "dev", ib, "nodad")
        for ns, dev in ((a, ia), (b, ib)):
            _sh("ip", "-n", ns, "link", "set", dev, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        _sh("ip", "netns", "exec", a, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0",
            f"net.ipv4.conf.{ia}.rp_filter=0")
        yield a, b, ia, ib
    finally:
        if os.path.isdir(F.pin_dir(ia)):
            F.unload(ia)
        subprocess.run(["ip", "netns", "del", a], capture_output=True)
        subprocess.run(["ip", "netns", "del", b], capture_output=True)


def cli(ns: str, *args: str) -> subprocess.CompletedProcess:
    """pybpf firewall in a netns.  nsenter, not 'ip netns exec': that one mounts a fresh
    /sys, hiding /sys/fs/bpf and so the pins."""
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run(["nsenter", f"--net=/run/netns/{ns}", sys.executable, "-m",
                           "pybpf", "firewall", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def sock_in(ns: str, family, kind, proto=0) -> socket.socket:
    back = _in_netns(ns)
    try:
        return socket.socket(family, kind, proto)
    finally:
        back()


def mac_of(ns: str, dev: str) -> str:
    return _sh("ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/address").strip()


def flood(tool, ns_b, ib, dmac, smac, v, src, nsrc, dst, port, count):
    out = _sh("ip", "netns", "exec", ns_b, tool, ib, dmac, smac, str(v), src, str(nsrc),
              dst, "udp", str(port), str(count))
    assert out.split()[1] == str(count)


def _icmp_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


class Legit:
    """The legitimate client in ns B: a TCP echo exchange, a ping (v4 and v6) and a UDP
    datagram to port 7005 every 20 ms until stopped, counting what went out and what came
    back intact."""

    def __init__(self, a: str, b: str):
        self.srv = sock_in(a, socket.AF_INET, socket.SOCK_STREAM)
        self.srv.bind(("10.78.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.tcp = sock_in(b, socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.settimeout(2)
        self.tcp.connect(("10.78.0.1", self.port))
        self.conn, _ = self.srv.accept()
        self.ping4 = sock_in(b, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.ping6 = sock_in(b, socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        for s in (self.ping4, self.ping6):
            s.settimeout(1)
        self.udp_rx = sock_in(a, socket.AF_INET, socket.SOCK_DGRAM)
        self.udp_rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.udp_rx.bind(("10.78.0.1", 7005))
        self.udp_rx.setblocking(False)
        self.udp_tx = sock_in(b, socket.AF_INET, socket.SOCK_DGRAM)
        self.udp_sent = 0
        self.sent = self.ok = 0
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._echo), threading.Thread(target=self._run)]

    def _echo(self):
        while True:
            data = self.conn.recv(4096)
            if not data:
                return
            self.conn.sendall(data)

    def _ping(self, s, v6: bool, seq: int) -> bool:
        ident = os.getpid() & 0xffff
        body = struct.pack("!HH", ident, seq) + b"pybpf-firewall"
        if v6:
            s.sendto(struct.pack("!BBH", 128, 0, 0) + body, ("fd78::1", 0))
        else:
            pkt = struct.pack("!BBH", 8, 0, 0) + body
            s.sendto(pkt[:2] + struct.pack("!H", _icmp_sum(pkt)) + pkt[4:], ("10.78.0.1", 0))
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            data = s.recv(2048)
            icmp = data if v6 else data[(data[0] & 15) * 4:]
            if icmp[0] == (129 if v6 else 0) and icmp[4:8] == body[:4]:
                return True
        return False

    def _run(self):
        seq = 0
        while not self.stop.is_set():
            seq += 1
            msg = f"hello {seq}\n".encode()
            try:
                self.sent += 3
                self.tcp.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    got += self.tcp.recv(len(msg) - len(got))
                self.ok += got == msg
                self.ok += self._ping(self.ping4, False, seq)
                self.ok += self._ping(self.ping6, True, seq)
                self.udp_tx.sendto(b"%d" % seq, ("10.78.0.1", 7005))
                self.udp_sent += 1
            except OSError as e:
                self.errors.append(repr(e))
            time.sleep(0.02)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.threads[1].join()
        self.tcp.close()
        self.threads[0].join()
        # every datagram sent is under the rate: wait for all (or 5 s), then count
        got = collect({7005: self.udp_rx}, lambda g: len(g[7005]) >= self.udp_sent)
        self.udp_received = len(got[7005])
        for s in (self.conn, self.srv, self.ping4, self.ping6, self.udp_tx):
            s.close()


@pytest.mark.parametrize("mode", ["native", "generic"])
def test_flood_is_dropped_and_limited_while_legit_flows_live(pair, fwflood, mode, tmp_path):
    a, b, ia, ib = pair
    rules = tmp_path / "flood.toml"
    rules.write_text('default = "allow"\n'
                     'rules = ["deny from 198.18.0.0/16", "deny from 2001:db8:dead::/48"]\n'
                     '[[rule]]\naction = "limit"\nproto = "udp"\nrate = 100\nburst = 50\n')
    r = cli(a, "load", ia, "--mode", mode, "--rules", str(rules))
    assert r.returncode == 0, r.stderr
    assert f"xdp ({mode})" in r.stdout
    rx = sock_in(a, socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    rx.bind(("10.78.0.1", 7001))
    rx.setblocking(False)
    dmac, smac = mac_of(a, ia), mac_of(b, ib)
    t0 = time.monotonic()
    with Legit(a, b) as legit:
        time.sleep(0.1)
        flood(fwflood, b, ib, dmac, smac, 4, "198.18.0.1", 256, "10.78.0.1", 9, 30000)
        flood(fwflood, b, ib, dmac, smac, 4, "198.19.0.1", 4, "10.78.0.1", 7001, 20000)
        flood(fwflood, b, ib, dmac, smac, 6, "2001:db8:dead::1", 256, "fd78::1", 9, 10000)
    elapsed = time.monotonic() - t0
    # the frames may still be on their way: the firewall counts a frame before the socket
    # gets it, so wait until the socket has every frame the counters say passed, with the
    # counters read again each time until they stand still
    received, st, last = 0, None, None

    def settled(got):
        nonlocal st, last
        last, st = st, json.loads(cli(a, "status", ia, "--json").stdout)
        lim = {x["rule"]: x for x in st["rules"]}["limit udp rate 100 burst 50"]
        return last == st and \
            len(got[7001]) == lim["packets"] - lim["limited"] - legit.udp_sent
    received = len(collect({7001: rx}, settled, timeout=10)[7001])
    rules_by = {x["rule"]: x for x in st["rules"]}
    deny4, deny6 = rules_by["deny from 198.18.0.0/16"], rules_by["deny from 2001:db8:dead::/48"]
    # every UDP source is limited to 100/s, the legitimate client's 50/s included
    lim = rules_by["limit udp rate 100 burst 50"]
    acts = st["actions"]
    # exactly what was sent hit each rule, and only that
    assert deny4["packets"] == 30000 and deny6["packets"] == 10000
    assert deny4["bytes"] == 30000 * (14 + 20 + 8 + 18)
    assert deny6["bytes"] == 10000 * (14 + 40 + 8 + 18)
    assert acts["drop"]["packets"] == 40000
    assert lim["packets"] == 20000 + legit.udp_sent
    passed = lim["packets"] - lim["limited"] - legit.udp_sent
    assert acts["limited"]["packets"] == lim["limited"]
    # each of the 4 flooding sources gets its burst, then 100/s: and every one passed
    # arrived; the legitimate client, under the rate, lost nothing
    assert 4 * 50 <= passed <= 4 * (50 + 100 * elapsed + 1)
    assert received == passed
    assert legit.udp_sent > 10 and legit.udp_received == legit.udp_sent
    # counters add up: every IP packet was decided by exactly one rule
    assert sum(x["packets"] for x in st["rules"]) == \
        acts["pass"]["packets"] + acts["drop"]["packets"] + acts["limited"]["packets"]
    assert acts["no-match"]["packets"] == 0
    # the legitimate client never noticed
    assert legit.errors == [] and legit.sent > 0 and legit.ok == legit.sent


@pytest.mark.parametrize("set_a,set_b", [
    (["allow udp from 10.78.0.2 port 7000"],
     ["allow udp to 10.78.0.1 port 7000", "deny from 10.78.0.0/24"]),
    # port ranges: the port classes swap with the rules, in the same trie
    (["allow udp from 10.78.0.2 port 6990-7001", "deny udp port 7002"],
     ["allow udp to 10.78.0.1 port 6000,7000", "deny udp port 7001-7100",
      "allow udp sport 1-1023"]),
])
def test_live_rule_swaps_lose_nothing_both_sets_allow(pair, set_a, set_b):
    a, b, ia, ib = pair
    r = cli(a, "load", ia, "--default", "deny", *sum((["-r", x] for x in set_a), []))
    assert r.returncode == 0, r.stderr
    rxs = {}
    for port in (7000, 7002):
        s = sock_in(a, socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind(("10.78.0.1", port))
        s.setblocking(False)
        rxs[port] = s
    n = 3000
    code = ("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            f"for i in range({n}):\n"
            " s.sendto(b'%d'%i,('10.78.0.1',7000)); s.sendto(b'x',('10.78.0.1',7002))\n"
            " time.sleep(0.0005)\n")
    from pybpf.net import rules as R
    with F.Firewall.open(ia) as fw:
        link_before = fw.status()["link"]["id"]
        sender = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", code])
        swaps = 0
        while sender.poll() is None:
            rs = set_b if swaps % 2 == 0 else set_a
            fw.apply(R.RuleSet([R.parse_rule(x) for x in rs], R.DENY))
            swaps += 1
        assert sender.wait() == 0
        st = fw.status()
    # the last datagram to 7000 went after the last to 7002: once all are in, 7002's too
    got = {port: set(v) for port, v in
           collect(rxs, lambda g: len(set(g[7000])) >= n).items()}
    assert swaps >= 20
    assert len(got[7000]) == n and got[7002] == set()
    assert st["link"]["id"] == link_before          # never detached


def test_cli_lifecycle_and_errors(pair):
    from pybpf.links import xdp
    from tests.test_links_net import _load
    a, b, ia, ib = pair
    r = cli(a, "load", "nosuch0")
    assert r.returncode == 1 and r.stderr.strip() == \
        "pybpf firewall: error: unknown interface 'nosuch0' (see 'ip link')"
    # someone else's XDP program: named, with its id
    with _load(False) as other:
        back = _in_netns(a)
        try:
            link = xdp.attach(other.programs["pt_xdp"], ia, mode="generic")
        finally:
            back()
        with link:
            pid = other.programs["pt_xdp"].id
            r = cli(a, "load", ia)
            assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
            assert f"another XDP program is attached to {ia}: id {pid} 'pt_xdp'" in r.stderr
    r = cli(a, "load", ia, "-r", "deny from 10.0.0.0/8", "-r", "allow tcp port 22")
    assert r.returncode == 0, r.stderr
    d = F.pin_dir(ia)
    assert sorted(os.listdir(d)) == sorted(["link", "prog", *F.MAPS])
    assert "prog/xdp id" in _sh("ip", "-n", a, "-d", "link", "show", ia)
    r = cli(a, "load", ia)
    assert r.returncode == 1 and "already loaded" in r.stderr and "2 rules" in r.stderr
    r = cli(a, "add", ia, "deny udp port 53")
    assert r.returncode == 0 and "added 1 rule " in r.stdout
    r = cli(a, "delete", ia, "allow tcp port 22")
    assert r.returncode == 0 and "deleted 1 rule " in r.stdout
    st = json.loads(cli(a, "status", ia, "--json").stdout)
    assert [x["rule"] for x in st["rules"]] == ["default allow", "deny from 10.0.0.0/8",
                                                "deny udp port 53"]
    r = cli(a, "apply", ia, "-r", "allow frm 10.0.0.1")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "unexpected 'frm'" in r.stderr
    r = cli(a, "unload", ia)
    assert r.returncode == 0
    assert not os.path.exists(d)
    assert "xdp" not in _sh("ip", "-n", a, "-d", "link", "show", ia)
    r = cli(a, "unload", ia)
    assert r.returncode == 1 and "no firewall loaded" in r.stderr


@pytest.mark.parametrize("egress", [False, True])
def test_tc_hook_filters_ingress_or_egress(pair, egress):
    a, b, ia, ib = pair
    args = ["--hook", "tc", "-r", "deny udp port 7003"] + (["--egress"] if egress else [])
    r = cli(a, "load", ia, *args)
    assert r.returncode == 0, r.stderr
    assert f"tc ({'egress' if egress else 'ingress'})" in r.stdout
    # ingress: B sends to A; egress: A sends to B.  Port 7003 is denied, 7004 is not.
    rx_ns, tx_ns, dst = (b, a, "10.78.0.2") if egress else (a, b, "10.78.0.1")
    rxs = {}
    for port in (7003, 7004):
        s = sock_in(rx_ns, socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((dst, port))
        s.settimeout(0.5)
        rxs[port] = s
    tx = sock_in(tx_ns, socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(5):
        for port in rxs:
            tx.sendto(b"%d" % i, (dst, port))
    tx.close()
    got = {}
    for port, s in rxs.items():
        got[port] = 0
        try:
            while True:
                s.recv(16)
                got[port] += 1
        except socket.timeout:
            pass
        s.close()
    assert got == {7003: 0, 7004: 5}
    st = json.loads(cli(a, "status", ia, "--json").stdout)
    assert (st["hook"], st["mode"]) == ("tc", "egress" if egress else "ingress")
    assert {x["rule"]: x["packets"] for x in st["rules"]}["deny udp port 7003"] == 5
    assert cli(a, "unload", ia).returncode == 0
    assert not os.path.exists(F.pin_dir(ia))


def test_native_where_the_driver_has_it_generic_otherwise(pair):
    a, b, ia, ib = pair
    br = f"fwd{os.getpid() % 100000}"           # a bridge: its driver has no native XDP
    _sh("ip", "-n", a, "link", "add", br, "type", "bridge")
    _sh("ip", "-n", a, "link", "set", br, "up")
    try:
        r = cli(a, "load", br, "--hook", "xdp", "--mode", "native")
        assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
        assert f"no XDP support on {br} (native mode)" in r.stderr
        assert not os.path.exists(F.pin_dir(br))
        r = cli(a, "load", br)
        assert r.returncode == 0 and "xdp (generic)" in r.stdout, r.stderr
        assert "prog/xdp id" in _sh("ip", "-n", a, "-d", "link", "show", br)
        r = cli(a, "load", ia)
        assert r.returncode == 0 and "xdp (native)" in r.stdout, r.stderr
        st = json.loads(cli(a, "status", "--json").stdout)
        assert {s["interface"]: s["mode"] for s in st} == {br: "generic", ia: "native"}
    finally:
        for dev in (br, ia):
            if os.path.isdir(F.pin_dir(dev)):
                F.unload(dev)
        _sh("ip", "-n", a, "link", "del", br)
