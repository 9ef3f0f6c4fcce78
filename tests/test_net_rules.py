"""Firewall rules: the one-line syntax, text and TOML files (errors with line numbers),
the trie encoding and its inverse, and the CLI on bad input.  No root needed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.net import rules as R
from pybpf.net import trie as T

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


@pytest.mark.parametrize("text,canon", [
    ("deny from 10.0.0.0/8", "deny from 10.0.0.0/8"),
    ("DROP from 10.1.2.3", "deny from 10.1.2.3/32"),
    ("allow tcp port 22", "allow tcp port 22"),
    ("allow port 53", "allow port 53"),
    ("accept proto 47", "allow gre"),
    ("allow udp to 2001:db8::/32 port 53", "allow udp to 2001:db8::/32 port 53"),
    ("limit udp from any rate 100/s", "limit udp rate 100 burst 100"),
    ("limit rate 5pps burst 9 per 24 per6 64", "limit any rate 5 burst 9 per 24 per6 64"),
    ("allow icmpv6  # neighbour discovery", "allow icmpv6"),
    ("allow tcp port 443,80", "allow tcp port 80,443"),
    ("allow tcp from 10.0.0.0/8 to 192.0.2.10 port 22",
     "allow tcp from 10.0.0.0/8 to 192.0.2.10/32 port 22"),
    ("deny udp dport 6000-7000", "deny udp port 6000-7000"),
    ("allow udp sport 53", "allow udp sport 53"),
    ("allow port 22,1000-2000,1500-2500,3000,1200", "allow port 22,1000-2500,3000"),
    ("allow tcp port 5-5,6", "allow tcp port 5,6"),
    ("deny sctp to 192.0.2.0/24 sports 1-1023", "deny sctp to 192.0.2.0/24 sport 1-1023"),
])
def test_parse_and_canonical_text(text, canon):
    r = R.parse_rule(text)
    assert r.text() == canon
    assert R.parse_rule(r.text()) == r


@pytest.mark.parametrize("text,msg", [
    ("", "empty rule"),
    ("permit from 10.0.0.1", "unknown action 'permit'"),
    ("deny from 10.0.0.256", "bad address '10.0.0.256'"),
    ("deny from 10.0.0.1/33", "bad prefix length"),
    ("deny from 10.0.0.1/8", "bits set after the prefix length"),
    ("deny from", "'from' needs a value"),
    ("deny from 10.0.0.1 to 2001:db8::1", "are not of the same family"),
    ("deny icmp port 7", "'port' needs tcp, udp or sctp"),
    ("deny tcp port 70000", "port must be a number from 1 to 65535"),
    ("deny tcp udp", "protocol given twice"),
    ("limit udp", "needs 'rate N'"),
    ("deny udp rate 5", "only go with 'limit'"),
    ("limit rate 5 per 33", "per (IPv4 prefix length)"),
    ("deny icmp from 2001:db8::1", "icmp does not go with"),
    ("deny frm 10.0.0.1", "unexpected 'frm'"),
    ("deny tcp port 7000-6000", "runs backwards"),
    ("deny tcp port 80,", "port must be a number from 1 to 65535"),
    ("deny tcp port 0-10", "port must be a number"),
    ("deny tcp sport 1-65536", "sport must be a number"),
    ("deny tcp port 80 sport 53", "give 'port' or 'sport', not both"),
    ("deny icmp sport 7", "'sport' needs tcp, udp or sctp"),
    ("deny tcp port " + ",".join(str(i) for i in range(1, 70)), "more than 64 items"),
])
def test_bad_rules_say_why(text, msg):
    with pytest.raises(R.RuleError, match=None) as e:
        R.parse_rule(text)
    assert msg in str(e.value)


def test_text_file_errors_carry_the_line(tmp_path):
    p = tmp_path / "fw.rules"
    p.write_text("# blocklist\ndefault deny\n\nallow tcp port 22\ndeny from 10.0.0.1/8\n")
    with pytest.raises(R.RuleError) as e:
        R.parse_file(str(p))
    assert str(e.value) == f"{p}:5: '10.0.0.1/8' has bits set after the prefix length"
    p.write_text("default maybe\n")
    with pytest.raises(R.RuleError, match=r":1: default must be allow or deny"):
        R.parse_file(str(p))
    p.write_text("default deny\nallow tcp port 22 # ssh\n")
    rs = R.parse_file(str(p))
    assert rs.default == R.DENY and [r.text() for r in rs.rules] == ["allow tcp port 22"]
    assert rs.rules[0].line == 2


def test_toml_file(tmp_path):
    p = tmp_path / "fw.toml"
    p.write_text('default = "deny"\nrules = [\n  "allow tcp port 22",\n  "allow icmp",\n]\n\n'
                 '[[rule]]\naction = "limit"\nproto = "udp"\nfrom = "198.18.0.0/15"\n'
                 'rate = 1000\nburst = 50\nper = 24\n')
    rs = R.parse_file(str(p))
    assert rs.default == R.DENY
    assert [r.text() for r in rs.rules] == [
        "allow tcp port 22", "allow icmp",
        "limit udp from 198.18.0.0/15 rate 1000 burst 50 per 24"]


@pytest.mark.parametrize("body,line,msg", [
    ('rules = ["allow tcp port 22",\n "deny form 10.0.0.1"]\n', 2, "unexpected 'form'"),
    ('default = "deny"\n[[rule]]\naction = "allow"\n[[rule]]\naction = "deny"\nport = 0\n',
     4, "port must be a number"),
    ('[[rule]]\naction = "allow"\nfrom = "1.2.3.4"\ncolour = "red"\n', 1, "unknown key 'colour'"),
    ('default = "deny"\nrules = [\n', 3, "TOML:"),
    ('defualt = "deny"\n', 1, "unknown key 'defualt'"),
    ('[[rule]]\nproto = "tcp"\n', 1, "needs an action"),
])
def test_toml_errors_carry_the_line(tmp_path, body, line, msg):
    p = tmp_path / "fw.toml"
    p.write_text(body)
    with pytest.raises(R.RuleError) as e:
        R.parse_file(str(p))
    assert e.value.line == line and msg in str(e.value)
    assert str(e.value).startswith(f"{p}:{line}: ")


def test_encode_decode_round_trip_and_duplicates():
    texts = ["allow tcp port 22", "allow port 53", "deny from 10.0.0.0/8",
             "deny to 2001:db8::/32", "allow icmp", "allow icmpv6",
             "limit udp from 198.18.0.0/15 rate 1000 burst 50 per 24",
             "limit any rate 7 burst 3 per6 64"]
    rules = [R.parse_rule(t) for t in texts]
    keys, vals, n, mask = T.encode(rules, list(range(1, len(rules) + 1)), R.DENY)
    ks, vs = R.KEY.size, R.VALUE.size
    entries = [(keys[i * ks:(i + 1) * ks], vals[i * vs:(i + 1) * vs]) for i in range(n)]
    # 'any' rules hold a key per family, 'port 53' one per protocol; 'limit rate 7' is a
    # catch-all of both families, so it takes the default's place: no default key is left
    assert n == 2 + 4 + 1 + 1 + 1 + 1 + 1 + 2
    back, default = T.decode(entries)
    assert [back[i].text() for i in sorted(back)] == texts
    assert default == R.ALLOW      # no rule 0 left: the fallback
    keys, vals, n, _ = T.encode(rules[:3], [1, 2, 3], R.DENY)
    back, default = T.decode([(keys[i * ks:(i + 1) * ks], vals[i * vs:(i + 1) * vs])
                              for i in range(n)])
    assert default == R.DENY and n == 2 + 4 + 1 + 2
    with pytest.raises(R.RuleError, match=r"same match as 'allow tcp port 22' \(line 3\)"):
        T.encode([R.parse_rule("allow tcp port 22", 3), R.parse_rule("deny tcp port 22", 9)],
                 [1, 2], R.ALLOW)
    with pytest.raises(R.RuleError, match=r"'deny port 22' has the same match"):
        T.encode([R.parse_rule("allow tcp port 22"), R.parse_rule("deny port 22")],
                 [1, 2], R.ALLOW)
    # class mask: v4 bits 0-15, v6 bits 16-31 (dim*8 + spec)
    _, _, _, mask = T.encode([R.parse_rule("deny udp to 10.0.0.0/8 port 9")], [1], R.ALLOW)
    assert mask == (1 << (8 + R.SPEC_DPORT)) | (1 << 0) | (1 << 16)


def test_port_ranges_encode_to_classes_and_decode_back():
    texts = ["deny udp port 6000-7000", "allow udp port 6500-6600", "allow tcp port 80,443",
             "allow port 1024-65535", "allow udp sport 53,5000-5999",
             "deny tcp from 10.0.0.0/8 port 1-1023"]
    rules = [R.parse_rule(t) for t in texts]
    keys, vals, n, mask = T.encode(rules, list(range(1, len(rules) + 1)), R.DENY)
    ks, vs = R.KEY.size, R.VALUE.size
    entries = [(keys[i * ks:(i + 1) * ks], vals[i * vs:(i + 1) * vs]) for i in range(n)]
    back, default = T.decode(entries)
    assert [back[i].text() for i in sorted(back)] == texts and default == R.DENY
    assert mask & R.RANGE_MASK
    # a range is a handful of class entries, not a key per port
    assert n < 200
    # the prefix blocks of a class cover exactly its ports
    from pybpf.net import portclass as P
    for lo, hi in ((1, 65535), (6000, 7000), (1024, 1024), (3, 17)):
        covered = set()
        for start, bits in P.prefix_blocks(lo, hi):
            size = 1 << (16 - bits)
            assert start % size == 0
            covered |= set(range(start, start + size))
        assert covered == set(range(lo, hi + 1))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 40), st.booleans()),
                min_size=1, max_size=8))
def test_fuzz_port_lists_cover_exactly_what_was_written(items):
    from pybpf.net import portclass as P
    text = ",".join(f"{lo}-{lo + w}" if w or dash else f"{lo}" for lo, w, dash in items)
    got = P.parse_ports(text)
    want = set()
    for lo, w, _ in items:
        want |= set(range(lo, lo + w + 1))
    assert set().union(*(set(range(lo, hi + 1)) for lo, hi in got)) == want
    assert list(got) == sorted(got)
    assert all(a[1] < b[0] for a, b in zip(got, got[1:]))      # disjoint
    assert P.parse_ports(P.text(got)) == got
    # classes: every port of every range maps to one class holding the ranges covering it
    spans = [(lo, hi, n) for n, (lo, hi) in enumerate(P.ranges(got))]
    seen = set()
    for lo, hi, owners in P.partition(spans):
        for port in (lo, hi):
            assert owners == {n for a, b, n in spans if a <= port <= b}
        assert not seen & set(range(lo, hi + 1))
        seen |= set(range(lo, hi + 1))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.sampled_from(list("abcdefghilmnoprstuwy0123456789./: #-,")),
    st.sampled_from(["deny ", "allow ", "limit ", "from ", "to ", "port ", "rate ", "per ",
                     "sport ", "udp ", "1-9", "80,443 ", "6000-7000 ",
                     "tcp ", "any ", "::/", "10.0.0.0/8 ", "burst ", "per6 ", "icmp "])),
    max_size=30).map("".join))
def test_fuzz_rule_parser_raises_only_rule_errors(text):
    try:
        r = R.parse_rule(text)
    except R.RuleError:
        return
    assert R.parse_rule(r.text()) == r
    T.encode([r], [1], R.ALLOW)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_toml_files_raise_only_rule_errors(tmp_path_factory, raw):
    p = tmp_path_factory.mktemp("fz") / "x.toml"
    p.write_bytes(raw)
    try:
        R.parse_file(str(p))
    except R.RuleError:
        pass


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "pybpf", "firewall", *args],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC))


def test_cli_check_and_bad_input_one_line(tmp_path):
    good = tmp_path / "good.rules"
    good.write_text("default deny\nallow tcp port 22\n")
    r = run_cli("check", str(good))
    assert r.returncode == 0 and r.stdout == "default deny\nallow tcp port 22\n"
    bad = tmp_path / "bad.toml"
    bad.write_text('rules = [\n "allow tcp port 22",\n "deny from 10.0.0.1 to ::2",\n]\n')
    r = run_cli("check", str(bad))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == (f"pybpf firewall: error: {bad}:3: 'from 10.0.0.1/32' and 'to ::2/128' "
                        "are not of the same family\n")
    over = tmp_path / "over.rules"
    over.write_text("deny udp port 6000-6100\n\nallow udp port 6050-6150 # overlap\n")
    r = run_cli("check", str(over))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == (f"pybpf firewall: error: {over}:3: 'allow udp port 6050-6150' "
                        "overlaps, with a range as wide, the ports of 'deny udp port "
                        "6000-6100' (line 1)\n")
    toml = tmp_path / "ports.toml"
    toml.write_text('[[rule]]\naction = "allow"\nproto = "tcp"\nport = [443, 80, "8000-8100"]'
                    '\n[[rule]]\naction = "allow"\nproto = "udp"\nsport = 53\n')
    r = run_cli("check", str(toml))
    assert r.returncode == 0 and r.stdout == ("allow tcp port 80,443,8000-8100\n"
                                              "allow udp sport 53\n")
    r = run_cli("check", str(tmp_path / "missing.toml"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "cannot read" in r.stderr
    r = run_cli("load")
    assert r.returncode == 2 and "the following arguments are required: iface" in r.stderr


def test_cli_output_into_a_closed_pipe_ends_quietly(tmp_path):
    big = tmp_path / "big.rules"
    big.write_text("".join(f"deny from 10.0.{i >> 8}.{i & 255}\n" for i in range(6000)))
    r = subprocess.run(f"'{sys.executable}' -m pybpf firewall check '{big}' | head -1",
                       shell=True, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=SRC))
    assert r.stdout == "deny from 10.0.0.0/32\n" and r.stderr == ""
