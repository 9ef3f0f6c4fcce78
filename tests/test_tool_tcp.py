"""pybpf's TCP tools against connections to a marker port on loopback."""

from __future__ import annotations

import os
import socket

import pytest

from tests.toolrun import ToolRun

pytestmark = pytest.mark.kernel


def _listener(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(16)
    return s


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_tcpconnect_marker_port_and_refused():
    srv = _listener()
    port = srv.getsockname()[1]
    closed = _free_port()
    t = ToolRun("tcpconnect", "-L", "-P", f"{port},{closed}", "-p", str(os.getpid()),
                ready="DPORT")
    c = socket.create_connection(("127.0.0.1", port))
    lport = c.getsockname()[1]
    c.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed))
    other = _listener()
    socket.create_connection(other.getsockname()).close()    # port not in -P
    lines = t.stop()
    rows = [ln.split() for ln in lines[1:]]
    assert [os.getpid(), "4", "127.0.0.1", lport, "127.0.0.1", port] in [
        [int(r[0]), r[2], r[3], int(r[4]), r[5], int(r[6])] for r in rows]
    assert any(int(r[6]) == closed for r in rows)
    assert not any(int(r[6]) == other.getsockname()[1] for r in rows)
    assert len(rows) == 2
    srv.close()
    other.close()


def test_tcpaccept_and_tcpconnect_json_ipv6():
    srv = _listener(socket.AF_INET6, "::1")
    port = srv.getsockname()[1]
    t = ToolRun("tcpaccept", "-P", str(port), "--json")

    def trigger():
        c = socket.create_connection(("::1", port))
        a, _ = srv.accept()
        trigger.seen.append(c.getsockname()[1])
        a.close()
        c.close()
    trigger.seen = []
    t.wait_for(f'"lport":{port}', trigger=trigger)
    recs = t.json()
    t.stop()
    r = recs[0]
    assert r["pid"] == os.getpid() and r["ip"] == 6 and r["laddr"] == "::1"
    assert r["raddr"] == "::1" and r["rport"] in trigger.seen
    assert set(r) == {"time", "ts", "pid", "uid", "comm", "ip", "raddr", "rport", "laddr",
                      "lport"}
    srv.close()
