"""The firewall's BPF program on crafted packets (BPF_PROG_TEST_RUN: exact verdicts and
counters), rule swaps keeping ids, 100,000 rules, capacity.  Traffic and the pinned
lifecycle are in test_net_traffic.py."""

from __future__ import annotations

import pytest

from pybpf.net import firewall as F
from pybpf.net import rules as R
from pybpf.net.packets import frame, frame6_ext
from tests.netfw import (XDP_DROP, XDP_PASS, fw, fw_each_build, ids_by_text,  # noqa: F401
                         ruleset, verdict)                    # (fw, fw_each_build: fixtures)

pytestmark = pytest.mark.kernel

V4_RULES = ("allow tcp port 22", "deny from 203.0.113.0/24", "allow from 203.0.113.7",
            "allow udp to 192.0.2.0/24 port 53", "deny to 192.0.2.53", "deny icmp")
V4_CASES = [  # (src, dst, proto, port, verdict, rule that decides)
    ("198.51.100.1", "192.0.2.1", "tcp", 22, XDP_PASS, "allow tcp port 22"),
    ("198.51.100.1", "192.0.2.1", "tcp", 80, XDP_DROP, None),          # default deny
    ("203.0.113.5", "192.0.2.1", "tcp", 22, XDP_DROP, "deny from 203.0.113.0/24"),
    ("203.0.113.7", "192.0.2.1", "tcp", 22, XDP_PASS, "allow from 203.0.113.7/32"),
    ("198.51.100.1", "192.0.2.9", "udp", 53, XDP_PASS, "allow udp to 192.0.2.0/24 port 53"),
    ("198.51.100.1", "192.0.2.53", "udp", 53, XDP_DROP, "deny to 192.0.2.53/32"),
    # equal prefix lengths, neither names a port: the source rule wins
    ("203.0.113.7", "192.0.2.53", "udp", 53, XDP_PASS, "allow from 203.0.113.7/32"),
    ("198.51.100.1", "192.0.2.1", "icmp", 0, XDP_DROP, "deny icmp"),
]


@pytest.mark.parametrize("prog", ["firewall_xdp", "firewall_tc"])
def test_ipv4_matching_order_and_exact_counters(fw, prog):
    fw.apply(ruleset(*V4_RULES, default="deny"))
    ids = ids_by_text(fw)
    want: dict[int, int] = {}
    for src, dst, proto, port, v, rule in V4_CASES:
        pkt = frame(src, dst, proto, port)
        for _ in range(3):
            assert verdict(fw, pkt, prog) == v, (src, dst, proto, port)
        rid = ids[rule] if rule else 0
        want[rid] = want.get(rid, 0) + 3
    got = fw.rule_counters([0, *ids.values()])
    for rid, n in want.items():
        assert got[rid][0] == n
    assert sum(c[0] for c in got.values()) == sum(want.values())
    acts = fw.action_counters()
    assert acts["pass"][0] == 3 * sum(1 for c in V4_CASES if c[4] == XDP_PASS)
    assert acts["drop"][0] == 3 * sum(1 for c in V4_CASES if c[4] == XDP_DROP)
    assert acts["pass"][0] + acts["drop"][0] == sum(c[0] for c in got.values())
    # bytes: every frame of a case has the same length
    tcp22 = len(frame("198.51.100.1", "192.0.2.1", "tcp", 22))
    assert got[ids["allow tcp port 22"]][1] == 3 * tcp22


def test_ipv6_prefixes_extension_headers_and_fragments(fw):
    fw.apply(ruleset("allow tcp port 22", "deny from 2001:db8:bad::/48",
                     "allow from 2001:db8:bad::1", "deny udp to 2001:db8:1::/64",
                     "allow icmpv6", default="deny"))
    good, bad, bad1 = "2001:db8:2::5", "2001:db8:bad::9", "2001:db8:bad::1"
    assert verdict(fw, frame(good, "2001:db8:1::1", "tcp", 22)) == XDP_PASS
    assert verdict(fw, frame(good, "2001:db8:1::1", "tcp", 23)) == XDP_DROP
    assert verdict(fw, frame(bad, "2001:db8:1::1", "tcp", 22)) == XDP_DROP
    assert verdict(fw, frame(bad1, "2001:db8:1::1", "tcp", 22)) == XDP_PASS
    assert verdict(fw, frame(good, "2001:db8:9::1", "icmpv6")) == XDP_PASS
    # the transport header behind hop-by-hop and destination options is found
    assert verdict(fw, frame6_ext(good, "2001:db8:1::1", "tcp", 22, "hop", "dst")) == XDP_PASS
    assert verdict(fw, frame6_ext(good, "2001:db8:1::1", "tcp", 23, "hop", "dst")) == XDP_DROP
    # a first fragment has the port; a later one has none, so port rules cannot match
    assert verdict(fw, frame6_ext(good, "2001:db8:1::1", "tcp", 22, "frag")) == XDP_PASS
    assert verdict(fw, frame6_ext(good, "2001:db8:1::1", "tcp", 22, "frag",
                                  frag_offset=100)) == XDP_DROP
    # IPv4 rules never match IPv6 packets and the reverse
    fw.apply(ruleset("deny from 0.0.0.0/0", default="allow"))
    assert verdict(fw, frame(good, "2001:db8:1::1", "udp", 53)) == XDP_PASS
    assert verdict(fw, frame("10.0.0.1", "10.0.0.2", "udp", 53)) == XDP_DROP


def test_vlan_fragments_non_ip_and_truncated(fw):
    fw.apply(ruleset("deny udp port 53"))
    assert verdict(fw, frame("10.0.0.1", "10.0.0.2", "udp", 53, vlan=7)) == XDP_DROP
    assert verdict(fw, frame("10.0.0.1", "10.0.0.2", "udp", 53, frag_offset=3)) == XDP_PASS
    arp = bytes(12) + b"\x08\x06" + bytes(28)
    assert verdict(fw, arp) == XDP_PASS
    cut = frame("10.0.0.1", "10.0.0.2", "udp", 53)[:14 + 10]
    assert verdict(fw, cut) == XDP_PASS
    acts = fw.action_counters()
    assert acts["non-ip"] == (1, len(arp)) and acts["malformed"] == (1, len(cut))
    assert acts["drop"][0] == 1 and acts["pass"][0] == 1


def test_rate_limit_bursts_exactly_per_source_and_per_prefix(fw_each_build):
    fw = fw_each_build
    fw.apply(ruleset("limit udp from 198.18.0.0/15 rate 1 burst 5",
                     "limit udp from 198.20.0.0/16 rate 1 burst 3 per 24"))
    ids = ids_by_text(fw)
    a, b = frame("198.18.0.1", "10.0.0.1"), frame("198.18.0.2", "10.0.0.1")
    got_a = [verdict(fw, a) for _ in range(12)]
    got_b = [verdict(fw, b) for _ in range(12)]
    # a rate of 1/s adds no token within the test: each address gets exactly its burst
    assert got_a == [XDP_PASS] * 5 + [XDP_DROP] * 7
    assert got_b == [XDP_PASS] * 5 + [XDP_DROP] * 7
    # per 24: addresses of one /24 share a bucket; another /24 has its own
    shared = [verdict(fw, frame(f"198.20.1.{i % 4 + 1}", "10.0.0.1")) for i in range(8)]
    other = [verdict(fw, frame("198.20.2.1", "10.0.0.1")) for _ in range(4)]
    assert shared.count(XDP_PASS) == 3 and other.count(XDP_PASS) == 3
    c = fw.rule_counters(ids.values())
    r1 = ids["limit udp from 198.18.0.0/15 rate 1 burst 5"]
    assert c[r1][0] == 24 and c[r1][2] == 14
    assert fw.action_counters()["limited"][0] == 14 + 5 + 1


def test_rate_limit_refills_at_the_rate(fw_each_build):
    import time
    fw = fw_each_build
    fw.apply(ruleset("limit udp rate 20 burst 2"))
    pkt = frame("10.1.1.1", "10.0.0.1")
    t0 = time.monotonic()
    passed = sum(verdict(fw, pkt) == XDP_PASS for _ in range(2000))
    dt = time.monotonic() - t0
    assert 2 <= passed <= 2 + int(20 * dt) + 1


def test_apply_keeps_ids_and_counters_of_unchanged_rules(fw):
    fw.apply(ruleset("deny from 10.9.0.0/16", "allow tcp port 22"))
    ids1 = ids_by_text(fw)
    for _ in range(4):
        verdict(fw, frame("10.9.1.1", "10.0.0.1"))
    res = fw.apply(ruleset("deny from 10.9.0.0/16", "deny from 10.8.0.0/16"))
    ids2 = ids_by_text(fw)
    kept = ids1["deny from 10.9.0.0/16"]
    assert ids2["deny from 10.9.0.0/16"] == kept and res["new_ids"] == 1
    assert ids2["deny from 10.8.0.0/16"] not in ids1.values()
    c = fw.rule_counters(ids2.values())
    assert c[kept][0] == 4 and c[ids2["deny from 10.8.0.0/16"]][0] == 0
    assert verdict(fw, frame("10.0.0.9", "10.0.0.1", "tcp", 22)) == XDP_PASS  # default


def test_100k_rules_apply_and_read_back(fw):
    big = F.Firewall.unattached(capacity=131072)
    try:
        rules = [R.Rule(R.DENY, src=R.Prefix(R.V4, bytes([10, i >> 16, (i >> 8) & 255,
                                                             i & 255]) + bytes(12), 32))
                 for i in range(100_000)]
        res = big.apply(R.RuleSet(rules, R.ALLOW))
        assert res["entries"] == 100_000 + 2
        assert verdict(big, frame("10.1.134.159", "192.0.2.1")) == XDP_DROP   # rule 99999
        assert verdict(big, frame("10.1.134.160", "192.0.2.1")) == XDP_PASS
        back, default = big.rules()
        assert len(back) == 100_000 and default == R.ALLOW
    finally:
        big.close()


def test_capacity_and_duplicates_are_clear_errors(fw):
    small = F.Firewall.unattached(capacity=16)
    try:
        with pytest.raises(R.RuleError, match="capacity"):
            small.apply(R.RuleSet([R.parse_rule(f"deny from 10.0.0.{i}")
                                   for i in range(20)], R.ALLOW))
    finally:
        small.close()
    with pytest.raises(R.RuleError, match="same match"):
        fw.apply(ruleset("deny from 10.0.0.1", "allow from 10.0.0.1/32"))


def test_fuzz_packets_every_one_counted_once(fw):
    """Arbitrary bytes behind Ethernet/VLAN/IP headers: the program never aborts, and each
    packet lands in exactly one action counter."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    fw.apply(ruleset("deny udp port 53", "limit tcp rate 1 burst 2",
                     "deny from 2001:db8::/32", "allow icmp", default="deny"))
    heads = st.sampled_from([b"\x08\x00", b"\x86\xdd", b"\x81\x00\x00\x07\x08\x00",
                             b"\x88\xa8\x00\x01\x81\x00\x00\x02\x86\xdd", b"\x08\x06"])
    ip4 = st.builds(lambda ihl, proto, frag, rest: bytes([0x40 | ihl, 0]) + bytes(4) +
                    frag.to_bytes(2, "big") + bytes([64, proto]) + rest,
                    st.integers(0, 15), st.sampled_from([1, 6, 17, 132, 58, 0, 255]),
                    st.integers(0, 0xffff), st.binary(max_size=80))
    ip6 = st.builds(lambda nh, rest: bytes([0x60, 0, 0, 0, 0, 8, nh, 64]) + rest,
                    st.sampled_from([0, 6, 17, 43, 44, 58, 60, 59]), st.binary(max_size=120))
    seen = {"n": 0}

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(heads, st.one_of(ip4, ip6, st.binary(max_size=64)))
    def run(head, body):
        ret = fw.obj.programs["firewall_xdp"].test_run(bytes(12) + head + body).retval
        assert ret in (XDP_DROP, XDP_PASS)
        seen["n"] += 1
    run()
    acts = fw.action_counters()
    assert sum(p for p, _ in acts.values()) == seen["n"]


def test_add_and_delete_in_place(fw):
    fw.apply(ruleset("deny from 10.9.0.0/16"))
    trie_id = int.from_bytes(fw.maps["rulesets"].lookup_raw(0), "little")
    pkt = frame("10.7.0.1", "10.0.0.1", "tcp", 25)
    assert verdict(fw, pkt) == XDP_PASS
    res = fw.add([R.parse_rule("deny tcp port 25"), R.parse_rule("deny from 10.7.0.0/16")])
    assert res["in_place"] and res["entries"] == 2 + 1
    # no swap: the same trie, now with the rules (ids after the ones in use)
    assert int.from_bytes(fw.maps["rulesets"].lookup_raw(0), "little") == trie_id
    ids = ids_by_text(fw)
    assert ids["deny tcp port 25"] == 2 and ids["deny from 10.7.0.0/16"] == 3
    assert verdict(fw, pkt) == XDP_DROP
    assert fw.rule_counters([3])[3][0] == 1          # /16 beats the port rule's /0
    with pytest.raises(R.RuleError, match="same match as rule 2"):
        fw.add([R.parse_rule("allow tcp port 25")])
    fw.delete([3, R.parse_rule("deny tcp port 25")])
    assert verdict(fw, pkt) == XDP_PASS
    assert set(ids_by_text(fw)) == {"deny from 10.9.0.0/16"}
    with pytest.raises(R.RuleError, match="no rule 'deny tcp port 25'"):
        fw.delete([R.parse_rule("deny tcp port 25")])
    with pytest.raises(R.RuleError, match="no rule with id 3"):
        fw.delete([3])
    with pytest.raises(R.RuleError, match="default policy"):
        fw.delete([0])
    # a catch-all takes the default's place: done by a whole-set swap
    res = fw.add([R.parse_rule("deny from 0.0.0.0/0")])
    assert not res["in_place"] and res["rules"] == 1
    assert verdict(fw, pkt) == XDP_DROP
    assert verdict(fw, frame("2001:db8::1", "2001:db8::2")) == XDP_PASS
    # a fresh id after the swap too
    fw.add([R.parse_rule("allow udp port 53")])
    assert ids_by_text(fw)["allow udp port 53"] > max(
        v for k, v in ids_by_text(fw).items() if k != "allow udp port 53")
