"""pybpf's TCP tools against connections to a marker port on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests import netns
from tests.toolrun import ToolRun, run_tool
from tests.vm import hook_absent

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


def _session(port_holder: list) -> tuple[int, int]:
    """A loopback session: the client sends 3000 bytes, the server answers 5000, both
    read everything and close.  Returns (client port, server port)."""
    srv = _listener()
    port = srv.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = srv.accept()
    c.sendall(b"c" * 3000)
    got = b""
    while len(got) < 3000:
        got += a.recv(65536)
    a.sendall(b"s" * 5000)
    got = b""
    while len(got) < 5000:
        got += c.recv(65536)
    cport = c.getsockname()[1]
    c.close()
    a.recv(10)           # the client's FIN
    a.close()
    srv.close()
    port_holder.append(port)
    return cport, port


def _recs(t: ToolRun) -> list[dict]:
    """The JSON records a tool printed so far (its last line may be partial)."""
    import json
    out = []
    for line in t.out:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def _closed(t: ToolRun, cport: int, port: int) -> bool:
    """Whether tcpstates showed the session's client socket and its listener closed."""
    recs = _recs(t)
    return any(r["lport"] == cport and r["rport"] == port and r["newstate"] == "CLOSE"
               for r in recs) and any(r["lport"] == port and r["oldstate"] == "LISTEN"
                                      and r["newstate"] == "CLOSE" for r in recs)


def test_tcpstates_client_transitions(tmp_path, monkeypatch):
    """The client socket's changes, in order; -Y sends each change to the journal too
    (a datagram socket of the test's own standing in for journald's)."""
    import threading
    journald = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journald.bind(str(tmp_path / "journal"))
    journald.settimeout(0.5)
    entries: list = []
    done = threading.Event()

    def drain():
        while not done.is_set():
            try:
                entries.append(journald.recv(65536))
            except socket.timeout:
                pass
    reader = threading.Thread(target=drain)
    reader.start()
    monkeypatch.setenv("PYBPF_JOURNAL_SOCKET", str(tmp_path / "journal"))
    try:
        ports: list = []
        t = ToolRun("tcpstates", "-Y", "--json")
        t.wait_for('"newstate":"LISTEN"', trigger=lambda: _session(ports))
        cport, port = _session(ports)
        # the last changes (the client's TIME_WAIT, the listener's close) may come from
        # a softirq that a busy machine leaves to ksoftirqd: wait for them
        t.wait_until(lambda: _closed(t, cport, port), timeout=20, what="the session's end")
        t.stop()
    finally:
        done.set()
        reader.join()
        journald.close()
    assert b"journal: lost" not in t.err
    fields = [dict(ln.split("=", 1) for ln in e.decode().splitlines()) for e in entries]
    logged = [(f["OBJECT_TCP_OLD_STATE"], f["OBJECT_TCP_NEW_STATE"]) for f in fields
              if f["OBJECT_TCP_SOURCE_PORT"] == str(cport)
              and f["OBJECT_TCP_DESTINATION_PORT"] == str(port)]
    shown = [(r["oldstate"], r["newstate"]) for r in t.json()
             if r["lport"] == cport and r["rport"] == port]
    assert logged == shown and ("SYN_SENT", "ESTABLISHED") in logged, (logged, shown)
    (est,) = [f for f in fields if f["OBJECT_TCP_SOURCE_PORT"] == str(cport)
              and f["OBJECT_TCP_NEW_STATE"] == "ESTABLISHED"]
    assert est["SYSLOG_IDENTIFIER"] == "tcpstates" and est["PRIORITY"] == "5"
    assert est["OBJECT_IPV4_DESTINATION_ADDRESS"] == "127.0.0.1"
    assert est["MESSAGE"].endswith(f"127.0.0.1 {cport} \u2192 127.0.0.1 {port} "
                                   "SYN_SENT \u2192 ESTABLISHED")
    # the socket's first change (CLOSE -> SYN_SENT) comes before its port is bound:
    # follow the socket by its address
    (sk,) = {r["skaddr"] for r in t.json() if r["lport"] == cport and r["rport"] == port}
    mine = [(r["oldstate"], r["newstate"]) for r in t.json() if r["skaddr"] == sk]
    # the kernel reuses socket memory: keep this socket's life only
    mine = mine[len(mine) - 1 - mine[::-1].index(("CLOSE", "SYN_SENT")):]
    assert mine[:4] == [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
                        ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2")], mine
    assert mine[-1][1] == "CLOSE"
    listener = [(r["oldstate"], r["newstate"]) for r in t.json() if r["lport"] == port]
    assert ("CLOSE", "LISTEN") in listener and ("LISTEN", "CLOSE") in listener


def test_tcplife_bytes_and_owner():
    ports: list = []
    t = ToolRun("tcplife", "-p", str(os.getpid()), "--json")
    t.wait_for('"tx_bytes"', trigger=lambda: _session(ports))
    cport, port = _session(ports)
    # both ends' records (each at its socket's close, which may come from a softirq that
    # a busy machine leaves to ksoftirqd)
    t.wait_until(lambda: {(r["lport"], r["rport"]) for r in _recs(t)} >= {
        (cport, port), (port, cport)}, timeout=20, what="both ends' records")
    t.stop()
    (client,) = [r for r in t.json() if r["lport"] == cport and r["rport"] == port]
    assert client["pid"] == os.getpid() and client["comm"].startswith("python")
    # the kernel's counters, as bcc reports them: SYN and FIN take sequence numbers.
    # bytes_received counts the peer's FIN (+1); bytes_acked counts our FIN and, on the
    # connecting side only, our SYN (the passive side's child socket starts past it)
    assert (client["tx_bytes"], client["rx_bytes"]) == (3000 + 2, 5000 + 1), client
    assert 0 <= client["ms"] < 5000
    (server,) = [r for r in t.json() if r["lport"] == port and r["rport"] == cport]
    assert (server["tx_bytes"], server["rx_bytes"]) == (5000 + 1, 3000 + 1), server


def test_tcpretrans_dropped_syn_is_retransmitted():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    t = ToolRun("tcpretrans", "-s", ready="RADDR:RPORT")
    assert t.out[0].split()[-2:] == ["STATE", "SEQ"]
    first = socket.create_connection(("127.0.0.1", port))   # fills the accept queue
    second = socket.socket()
    second.setblocking(False)
    # the SYN's sequence number as it crossed lo (-s must show it on the retransmit)
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    try:
        sniff.bind(("lo", 0))
        second.connect_ex(("127.0.0.1", port))     # its SYN is dropped: resent after ~1 s
        lport = second.getsockname()[1]
        isn = _syn_seq(sniff, lport)
    finally:
        sniff.close()
    t.wait_for(f"127.0.0.1:{port}", timeout=10)
    lines = t.stop(settle=0)
    rows = [ln.split() for ln in lines if f"127.0.0.1:{port}" in ln]
    assert rows[0][2:] == ["4", f"127.0.0.1:{lport}", "R>", f"127.0.0.1:{port}", "SYN_SENT",
                           str(isn)]
    for s in (first, second, srv):
        s.close()


@pytest.mark.needs_hook("kprobe")
def test_tcpretrans_lossprobe_shows_the_tail_loss_probe_then_the_retransmit():
    from pybpf.links import kprobe
    if not kprobe.available():
        r = run_tool("tcpretrans", "-l")
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        assert "tcp_send_loss_probe" in r.stderr and "CONFIG_KPROBES" in r.stderr
        hook_absent()
        return
    t = ToolRun("tcpretrans", "-l", ready="RADDR:RPORT",
                timeout=900 if os.environ.get("PYBPF_IN_VM") == "1" else 60)
    with netns.entered("pybpf-tlp"):
        srv = _listener()
        port = srv.getsockname()[1]
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        c.sendall(b"x" * 100)                 # an RTT sample: the probe timer needs one
        assert len(a.recv(100)) == 100
        # every packet on this namespace's lo lost from here: the last segment's probe
        # fires after ~2 RTTs (>= 10 ms), the retransmit timer after >= 200 ms
        subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "loss", "100%"],
                       check=True, capture_output=True)
        c.send(b"y" * 1000)
        time.sleep(1.0)
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=True,
                       capture_output=True)
        lport = c.getsockname()[1]
        for s in (c, a, srv):
            s.close()
    conn = [f"127.0.0.1:{lport}", f"127.0.0.1:{port}"]
    t.wait_for(conn[0], timeout=10)
    rows = [ln.split() for ln in t.stop()[1:]]
    rows = [r for r in rows if [r[3], r[5]] == conn]
    kinds = [r[4] for r in rows]
    assert kinds[0] == "L>" and "R>" in kinds, rows
    assert rows[0][2] == "4" and rows[0][6] == "ESTABLISHED", rows[0]


def _syn_seq(sniff, sport: int) -> int:
    """The sequence number of the first SYN from ``sport`` read on a packet socket (IPv4
    datagrams without the link header)."""
    import select
    import struct
    import time
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not select.select([sniff], [], [], 0.2)[0]:
            continue
        ip = sniff.recv(65535)
        if len(ip) < 40 or ip[9] != socket.IPPROTO_TCP:
            continue
        tcp = ip[(ip[0] & 15) * 4:]
        src, _, seq, _, _, flags = struct.unpack_from("!HHIIBB", tcp)
        if src == sport and flags & 0x02:
            return seq
    raise AssertionError("no SYN seen on lo")


def test_bindsnoop_tcp_udp_and_failed_bind():
    port = _free_port()
    t = ToolRun("bindsnoop", "-p", str(os.getpid()), ready="ADDR")
    a = socket.socket()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    a.bind(("127.0.0.1", port))
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    u.bind(("::1", port))
    b = socket.socket()
    with pytest.raises(OSError):
        b.bind(("127.0.0.1", port))          # taken: EADDRINUSE
    lines = t.stop()
    rows = [ln.split() for ln in lines[1:]]
    assert rows == [[str(os.getpid()), rows[0][1], "0", "TCP", "R.", "0", str(port), "127.0.0.1"],
                    [str(os.getpid()), rows[0][1], "0", "UDP", ".r", "0", str(port), "::1"],
                    [str(os.getpid()), rows[0][1], "-98", "TCP", "..", "0", str(port),
                     "127.0.0.1"]], rows
    for s in (a, u, b):
        s.close()


def _dns_reply(query: bytes, addr: str) -> bytes:
    """A response to ``query`` (one question) with one A record for ``addr``."""
    end = query.index(b"\0", 12) + 5                    # the question: name, type, class
    return (query[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + query[12:end]
            + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton(addr))


def _dns_query(name: str) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\0\0\x01\0\x01"


def test_tcpconnect_dns_names_the_connect_after_an_answer():
    """-d: an answer from port 53 (a resolver of the test's own on 127.0.0.77) for
    pybpf-test.example -> 127.0.0.99 names the connect to 127.0.0.99; a connect to an
    address no answer gave says "No DNS Query"; 127.0.0.1 is "localhost"."""
    resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    resolver.bind(("127.0.0.77", 53))
    named, unnamed, local = (_listener(host=h) for h in ("127.0.0.99", "127.0.0.98",
                                                          "127.0.0.1"))
    try:
        t = ToolRun("tcpconnect", "-d", "-p", str(os.getpid()), ready="QUERY")
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.connect(("127.0.0.77", 53))
        client.send(_dns_query("pybpf-test.example"))
        query, peer = resolver.recvfrom(512)
        resolver.sendto(_dns_reply(query, "127.0.0.99"), peer)
        assert socket.inet_ntoa(client.recv(512)[-4:]) == "127.0.0.99"
        client.close()
        for s in (named, unnamed, local):
            socket.create_connection(s.getsockname()).close()
        lines = t.stop()
    finally:
        for s in (resolver, named, unnamed, local):
            s.close()
    assert lines[0].split()[-1] == "QUERY"
    got = {ln.split()[4]: ln.split(None, 6)[6] for ln in lines[1:]}
    assert got == {"127.0.0.99": "pybpf-test.example", "127.0.0.98": "No DNS Query",
                   "127.0.0.1": "localhost"}, lines
    from tests.toolrun import run_tool
    r = run_tool("tcpconnect", "-d", "-c")
    assert r.returncode == 1 and r.stderr == \
        "pybpf tcpconnect: error: you may not specify -d/--dns with -c/--count\n"
_BIND_TWICE = """
import socket, sys
port = int(sys.argv[1])
a = socket.socket()
a.bind(("127.0.0.1", port))
try:
    socket.socket().bind(("127.0.0.1", port))
except OSError:
    pass
"""


def test_bindsnoop_uid_filter_and_error_column():
    """-u 65534 -E -w: a child running as nobody binds a port twice (the second fails);
    this process's own bind (uid 0) is not shown.  RC holds bcc's error text."""
    port = _free_port()
    t = ToolRun("bindsnoop", "-u", "65534", "-E", "-w", ready="ADDR")
    mine = socket.socket()
    mine.bind(("127.0.0.1", 0))
    mine.close()
    subprocess.run([sys.executable, "-c", _BIND_TWICE, str(port)], user=65534, group=65534,
                   check=True)
    lines = t.stop()
    assert lines[0].split()[:3] == ["RC", "PID", "COMM"]
    rows = [ln for ln in lines[1:] if ln.strip()]
    assert len(rows) == 2, lines
    assert rows[0].startswith("Success ") and rows[1].startswith("Address already in use ")
    ret = [ln[26:].split()[2] for ln in rows]
    assert ret == ["0", "-98"]
    assert all(ln.split()[-2:] == [str(port), "127.0.0.1"] for ln in rows), rows


def test_bindsnoop_count_per_address_and_port():
    """--count: three binds of 127.0.0.1:P, one of ::1:Q and a failed one (not counted
    without -E), in bcc's LADDR LPORT BINDS table."""
    p, q = _free_port(), _free_port()
    t = ToolRun("bindsnoop", "--count", "-p", str(os.getpid()), ready="Tracing binds")
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", p))
        s.close()
    s6 = socket.socket(socket.AF_INET6)
    s6.bind(("::1", q))
    with pytest.raises(OSError):
        socket.socket(socket.AF_INET6).bind(("::1", q))
    s6.close()
    lines = t.stop()
    i = next(i for i, ln in enumerate(lines) if ln.split() == ["LADDR", "LPORT", "BINDS"])
    assert [ln.split() for ln in lines[i + 1:] if ln.strip()] == [
        ["127.0.0.1", str(p), "3"], ["::1", str(q), "1"]]
