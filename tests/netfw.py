"""What the firewall's test files share: verdict constants, a rule set from lines, an
unattached firewall (a fixture), its rule ids by text, one packet's verdict."""

from __future__ import annotations

import time

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


def _builds() -> list[str]:
    from pybpf.kernelid import release_tuple
    return ["firewall", "firewall_nocas"] if release_tuple() >= (5, 12) else ["firewall_nocas"]


@pytest.fixture(params=_builds())
def fw_each_build(request, monkeypatch):
    """An unattached firewall of each build this kernel loads: with compare-and-swap
    (5.12+), and the one kernels before 5.12 load (named as the object for this kernel)."""
    monkeypatch.setattr(F, "object_name", lambda release=None: request.param)
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


def collect(socks: dict, done, timeout: float = 5.0) -> dict:
    """The datagrams each non-blocking socket of ``{port: socket}`` receives, as
    ``{port: [payload, ...]}``, read until ``done(got)`` holds or ``timeout`` seconds
    pass (each socket then closed).  Datagrams sent over a veth pair may still sit in the
    peer's backlog when sendto() returns: a test waits for what it knows must arrive
    instead of sleeping a fixed time."""
    got = {port: [] for port in socks}
    deadline = time.monotonic() + timeout
    while True:
        for port, s in socks.items():
            try:
                while True:
                    got[port].append(s.recv(64))
            except BlockingIOError:
                pass
        if done(got) or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    for s in socks.values():
        s.close()
    return got


def wait_counts(socks: dict, want: dict, timeout: float = 5.0) -> dict:
    """How many datagrams each socket of ``{port: socket}`` received, once every port of
    ``want`` has at least its count (or ``timeout`` passed).  Send the wanted ports'
    datagrams after the ones that must be dropped: once the last arrived, the earlier
    ones went through the same queue and the firewall, so a count of 0 is final."""
    got = collect(socks, lambda g: all(len(g[p]) >= n for p, n in want.items()), timeout)
    return {port: len(v) for port, v in got.items()}
