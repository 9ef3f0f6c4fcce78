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
