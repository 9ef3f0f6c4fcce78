"""tc attach over rtnetlink without pyroute2 (pybpf.links.tc_netlink): the messages, the
kernel's acknowledgements, and a filter that counts real packets in a network namespace."""

from __future__ import annotations

import errno
import socket
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import pybpf
from pybpf import errors
from pybpf.links import tc, tc_netlink
from tests.netns import entered

ROOT = Path(__file__).resolve().parent.parent
TC_EXAMPLE = str(ROOT / "examples" / "tc" / "tc.bpf.c")


# -- messages (no root needed) -------------------------------------------------------

def _attrs(buf: bytes) -> dict[int, bytes]:
    out, off = {}, 0
    while off + 4 <= len(buf):
        n, kind = struct.unpack_from("=HH", buf, off)
        out[kind] = buf[off + 4:off + n]
        off += (n + 3) & ~3
    return out


def test_clsact_message():
    body = tc_netlink.clsact(7)
    assert struct.unpack_from("=BxHiIII", body) == (0, 0, 7, 0xFFFF0000, 0xFFFFFFF1, 0)
    assert _attrs(body[20:]) == {1: b"clsact\0"}


def test_bpf_filter_message():
    body = tc_netlink.bpf_filter(3, "egress", priority=5, handle=9, prog_fd=42, name="f")
    ifindex, handle, parent, info = struct.unpack_from("=iIII", body, 4)
    # priority 5 in the upper half, ETH_P_ALL in network order in the lower
    assert (ifindex, handle, parent, info) == (3, 9, 0xFFFFFFF3, (5 << 16) | 0x0300)
    attrs = _attrs(body[20:])
    assert attrs[1] == b"bpf\0"
    opts = _attrs(attrs[2 | 0x8000])
    assert opts == {6: struct.pack("=I", 42), 7: b"f\0", 8: struct.pack("=I", 1)}
    # a delete names the filter without options
    assert set(_attrs(tc_netlink.bpf_filter(3, "ingress", 5, 9)[20:])) == {1}


def _error(err: int, seq: int, msg: bytes = b"", capped: bool = True) -> bytes:
    request = struct.pack("=IHHII", 36, 44, 5, seq, 0)
    tail = b"" if capped else b"\0" * 20
    tlv = b""
    flags = 0x100 if capped else 0
    if msg:
        tlv = struct.pack("=HH", 4 + len(msg) + 1, 1) + msg + b"\0"
        tlv += b"\0" * (-len(tlv) & 3)
        flags |= 0x200
    body = struct.pack("=i", -err) + request + tail + tlv
    return struct.pack("=IHHII", 16 + len(body), 2, flags, seq, 0) + body


def test_parse_ack():
    assert tc_netlink.parse_ack(_error(0, 3), 3) == (0, "")
    assert tc_netlink.parse_ack(_error(errno.EEXIST, 4, b"Filter already exists"), 4) == \
        (errno.EEXIST, "Filter already exists")
    assert tc_netlink.parse_ack(_error(errno.EINVAL, 5, b"bad", capped=False), 5) == \
        (errno.EINVAL, "bad")
    # an ack for another request, then ours
    assert tc_netlink.parse_ack(_error(1, 1) + _error(0, 2), 2) == (0, "")
    with pytest.raises(ValueError):
        tc_netlink.parse_ack(_error(0, 1), 2)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 3))
def test_parse_ack_on_any_bytes(data, seq):
    try:
        err, msg = tc_netlink.parse_ack(data, seq)
    except ValueError:
        return
    assert isinstance(err, int) and isinstance(msg, str)


# -- the kernel ----------------------------------------------------------------------

def _sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def netns():
    """A fresh network namespace with lo up; the test runs inside it."""
    with entered("pybpf-tcnl") as name:
        yield name


@pytest.mark.kernel
def test_filter_counts_packets_and_goes_away(netns):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        with pybpf.load(TC_EXAMPLE, variables={"port": port}) as obj:
            link = obj.programs["tc_ingress"].attach_tc("lo", "ingress", mode="netlink",
                                                        priority=7, handle=3)
            assert link.kind == "tc"
            shown = _sh("ip", "netns", "exec", netns, "tc", "filter", "show", "dev", "lo",
                        "ingress")
            assert "direct-action" in shown and "tc_ingress" in shown
            assert "pref 7" in shown and "handle 0x3" in shown
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for _ in range(3):
                    tx.sendto(b"x" * 10, ("127.0.0.1", port))
            for _ in range(3):
                rx.recv(100)
            assert obj.bss.packets == 3 and obj.bss.bytes == 3 * (14 + 20 + 8 + 10)
            link.close()
            assert obj.bss.packets == 3
            assert _sh("ip", "netns", "exec", netns, "tc", "filter", "show", "dev", "lo",
                       "ingress") == ""
    # the qdisc this attach created is gone too
    assert "clsact" not in _sh("ip", "netns", "exec", netns, "tc", "qdisc", "show", "dev", "lo")


@pytest.mark.kernel
def test_existing_qdisc_is_kept_and_a_taken_slot_is_an_error(netns):
    _sh("ip", "netns", "exec", netns, "tc", "qdisc", "add", "dev", "lo", "clsact")
    with pybpf.load(TC_EXAMPLE, variables={"port": 1}) as obj:
        prog = obj.programs["tc_ingress"]
        with tc.attach(prog, "lo", "egress", mode="netlink"):
            with pytest.raises(errors.KernelError) as e:
                tc.attach(prog, "lo", "egress", mode="netlink")     # same prio and handle
            assert e.value.errno == errno.EEXIST and "egress filter on lo" in str(e.value)
        assert _sh("ip", "netns", "exec", netns, "tc", "filter", "show", "dev", "lo",
                   "egress") == ""
        # the qdisc was there before: it stays
        assert "clsact" in _sh("ip", "netns", "exec", netns, "tc", "qdisc", "show", "dev", "lo")
        with pytest.raises(errors.NotFoundError, match="no network interface 'nope0'"):
            tc.attach(prog, "nope0", mode="netlink")
        assert not obj.links


@pytest.mark.kernel
def test_teardown_after_the_interface_is_gone(netns):
    _sh("ip", "link", "add", "tcnl0", "type", "veth", "peer", "tcnl1")
    with pybpf.load(TC_EXAMPLE, variables={"port": 1}) as obj:
        link = tc.attach(obj.programs["tc_ingress"], "tcnl0", mode="netlink")
        _sh("ip", "link", "del", "tcnl0")
        link.close()                                # ENODEV on the way out: fine
        assert link.closed
