"""tools/_dns.py: DNS answers parsed from untrusted bytes, and the QUERY column's cache."""

from __future__ import annotations

import socket

from hypothesis import given, settings, strategies as st

from pybpf.tools import _dns

Q = b"\x03www\x07example\x03com\x00"     # the question's name, at offset 12


def _msg(flags=0x8180, qd=1, an=2, body=b""):
    return (b"\x12\x34" + flags.to_bytes(2, "big") + qd.to_bytes(2, "big")
            + an.to_bytes(2, "big") + b"\0\0\0\0" + body)


ANSWERS = (Q + b"\x00\x01\x00\x01"
           # www.example.com A 192.0.2.7 (name by pointer), then an AAAA
           + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04" + bytes([192, 0, 2, 7])
           + b"\xc0\x0c\x00\x1c\x00\x01\x00\x00\x0e\x10\x00\x10"
           + socket.inet_pton(socket.AF_INET6, "2001:db8::7"))


def test_a_and_aaaa_answers():
    assert _dns.parse_answer(_msg(body=ANSWERS)) == ("www.example.com",
                                                      ["192.0.2.7", "2001:db8::7"])


def test_queries_and_answerless_responses_are_skipped():
    assert _dns.parse_answer(_msg(flags=0x0100, body=ANSWERS)) is None     # a query
    assert _dns.parse_answer(_msg(an=0, body=ANSWERS)) is None
    assert _dns.parse_answer(_msg(qd=2, body=ANSWERS)) is None
    assert _dns.parse_answer(b"\x12") is None


def test_pointer_loop_and_truncation_end_quietly():
    loop = _msg(body=b"\xc0\x0c")                   # the name points at itself
    assert _dns.parse_answer(loop) is None
    assert _dns.parse_answer(_msg(body=ANSWERS)[:-3]) == ("www.example.com", ["192.0.2.7"])


def test_cache_column():
    c = _dns.Cache(size=1)
    c.add(_msg(body=ANSWERS))
    assert c.column("2001:db8::7") == "www.example.com"
    assert c.column("192.0.2.7") == "No DNS Query"          # size 1: the older went
    assert c.column("127.0.0.1") == "localhost" and c.column("::1") == "localhost"
    c.names["2001:db8::7"] = ("old.example", c.names["2001:db8::7"][1] - 0.25)
    assert c.column("2001:db8::7").startswith("old.example (2")      # 250 ms: its age


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_never_raises(data):
    got = _dns.parse_answer(data)
    assert got is None or isinstance(got[0], str)
    _dns.Cache().add(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_after_a_valid_header(tail):
    _dns.parse_answer(_msg(body=tail))
