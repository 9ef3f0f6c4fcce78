"""What the firewall's test files share: verdict constants, a rule set from lines, an
unattached firewall (a fixture), its rule ids by text, one packet's verdict."""

from __future__ import annotations

import pytest

from pybpf.net import firewall as F
from pybpf.net import rules as R

XDP_DROP, XDP_PASS = 1, 2


def ruleset(*lines, default="allow"):
    return R.RuleSet([R.parse_rule(x) for x in lines], R.parse_default(default))


@pytest.fixture
def fw():
    f = F.Firewall.unattached(capacity=4096)
    yield f
    f.close()


def ids_by_text(fw):
    rules, _ = fw.rules()
    return {r.text(): rid for rid, r in rules.items()}


def verdict(fw, pkt, prog="firewall_xdp"):
    """The XDP verdict of ``pkt`` (tc's mapped onto XDP's)."""
    ret = fw.obj.programs[prog].test_run(pkt).retval
    if prog == "firewall_tc":
        return {0: XDP_PASS, 2: XDP_DROP}[ret]
    return ret


def drain_counts(socks: dict) -> dict:
    """How many datagrams each non-blocking socket of ``{port: socket}`` holds (each read
    and closed)."""
    got = {}
    for port, s in socks.items():
        got[port] = 0
        try:
            while True:
                s.recv(64)
                got[port] += 1
        except BlockingIOError:
            pass
        s.close()
    return got
