"""pybpf sslsniff against real TLS sessions on loopback: openssl s_server/s_client, curl,
gnutls-cli and a statically linked OpenSSL client; markers in both directions."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.kernel

TOOL = [sys.executable, "-m", "pybpf.cli", "sslsniff"]
ENV = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "src"))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "1", "-subj",
                    "/CN=localhost"], check=True, capture_output=True)
    return str(d / "cert.pem"), str(d / "key.pem")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sniff:
    def __init__(self, *args: str):
        self.p = subprocess.Popen(TOOL + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=ENV, text=True)
        self._ready()
        if "--json" not in args:
            line = self.p.stdout.readline()
            assert line.startswith("FUNC"), (line, self.p.stderr.read())

    def _ready(self) -> None:
        """The probes are all in place once it says what it probes (on stderr)."""
        line = self.p.stderr.readline()
        assert line.startswith("sslsniff: probing "), (line, self.p.stderr.read())

    def stop(self) -> tuple[str, str]:
        time.sleep(0.5)
        self.p.send_signal(signal.SIGINT)
        out, err = self.p.communicate(timeout=30)
        assert self.p.returncode == 0, err
        return out, err

    def records(self) -> list[dict]:
        out, _ = self.stop()
        return [json.loads(x) for x in out.splitlines() if x.strip()]


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)


def _s_server(cert, key, port, *extra, prefix=(), www=False):
    """openssl s_server on 127.0.0.1:port (run under ``prefix``), listening when
    returned; it echoes what clients send on its stdout and sends what its stdin gets
    (with ``www``: answers HTTP requests, no pipes)."""
    pipe = subprocess.DEVNULL if www else subprocess.PIPE
    p = subprocess.Popen([*prefix, "openssl", "s_server", "-accept", f"127.0.0.1:{port}",
                          "-cert", cert, "-key", key, *(["-www"] if www else []), "-quiet",
                          *extra], stdin=pipe, stdout=pipe, stderr=subprocess.DEVNULL)
    _wait_listening(port)
    return p


def _s_client(port: int) -> list[str]:
    return ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet"]


def _markers(c2s: str = "C2S", s2c: str = "S2C") -> tuple[str, str]:
    """Unique markers for the client-to-server and server-to-client data."""
    return f"{c2s}-{uuid.uuid4().hex}", f"{s2c}-{uuid.uuid4().hex}"


def _read_until(stream, marker: bytes, got: bytes = b"") -> bytes:
    """Read the pipe until marker is in what was read (15 s at most)."""
    deadline = time.monotonic() + 15
    while marker not in got and time.monotonic() < deadline:
        r, _, _ = select.select([stream], [], [], 0.1)
        if r:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            got += chunk
    return got


def _state(pid: int) -> str:
    """A process's scheduler state letter (R running, S sleeping, ...)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return ""


def _exchange(server, client_cmd, c2s: str, s2c: str) -> str:
    """The client sends c2s; once the server printed it, the server sends s2c; the
    client's output is returned."""
    client = subprocess.Popen(client_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    client.stdin.write((c2s + "\n").encode())
    client.stdin.flush()
    got = _read_until(server.stdout, c2s.encode())
    assert c2s.encode() in got, got
    server.stdin.write((s2c + "\n").encode())
    server.stdin.flush()
    out = _read_until(client.stdout, s2c.encode())
    # the reply is on the wire before SSL_write returns to the server, and its uretprobe
    # reports it only then: wait until the server blocks again (in select) before the kill
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _state(server.pid) != "S":
        time.sleep(0.01)
    for p in (client, server):
        p.kill()
        p.wait()
    assert s2c.encode() in out, out
    return out.decode(errors="replace")


def test_openssl_plaintext_both_directions(certs):
    cert, key = certs
    port = _free_port()
    c2s, s2c = _markers()
    sniff = Sniff("--json", "-x")
    server = _s_server(cert, key, port)
    _exchange(server, _s_client(port), c2s, s2c)
    recs = [r for r in sniff.records() if c2s in r["data"] or s2c in r["data"]]
    got = sorted((r["func"], r["data"], r["len"], r["lib"], r["pid"] == server.pid)
                 for r in recs)
    assert got == sorted([
        ("WRITE/SEND", c2s + "\n", len(c2s) + 1, "openssl", False),
        ("READ/RECV", c2s + "\n", len(c2s) + 1, "openssl", True),
        ("WRITE/SEND", s2c + "\n", len(s2c) + 1, "openssl", True),
        ("READ/RECV", s2c + "\n", len(s2c) + 1, "openssl", False)]), recs


def test_pid_filter_uses_the_targets_own_libraries_and_bcc_text_output(certs):
    cert, key = certs
    port = _free_port()
    c2s, s2c = _markers()
    server = _s_server(cert, key, port)
    try:
        sniff = Sniff("-p", str(server.pid))
        _exchange(server, _s_client(port), c2s, s2c)
    finally:
        server.kill()
        server.wait()
    out, _ = sniff.stop()
    import re
    blocks = re.findall(r"^(\S+) +[0-9.]+ +(\S+) +(\d+) +(\d+) *\n----- DATA -----\n(.*?)\n"
                        r"----- END DATA -----\n", out, re.S | re.M)
    assert blocks == [("READ/RECV", "openssl", str(server.pid), str(len(c2s) + 1), c2s + "\n"),
                      ("WRITE/SEND", "openssl", str(server.pid), str(len(s2c) + 1),
                       s2c + "\n")], out
    # nothing of the client's side: it is another process
    assert out.count("----- DATA -----") == 2, out


def test_curl_against_a_local_https_server(certs):
    cert, key = certs
    port = _free_port()
    path = f"/marker-{uuid.uuid4().hex}"
    server = _s_server(cert, key, port, www=True)
    try:
        sniff = Sniff("--json", "-c", "curl")
        r = subprocess.run(["curl", "-sk", "--http1.1", f"https://127.0.0.1:{port}{path}"],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r
    finally:
        server.kill()
        server.wait()
    recs = sniff.records()
    assert all(x["comm"] == "curl" for x in recs)
    sent = [x for x in recs if x["func"] == "WRITE/SEND"]
    assert len(sent) == 1 and sent[0]["data"].startswith(f"GET {path} HTTP/1.1\r\n")
    got = "".join(x["data"] for x in recs if x["func"] == "READ/RECV")
    assert got.encode() == r.stdout or got.startswith("HTTP/1.0 200 ok"), got[:200]


def test_gnutls_client(certs):
    cert, key = certs
    port = _free_port()
    c2s, s2c = _markers("G2S", "S2G")
    sniff = Sniff("--json", "-c", "gnutls-cli")
    server = _s_server(cert, key, port)
    _exchange(server, ["gnutls-cli", "--insecure", "-p", str(port), "127.0.0.1"], c2s, s2c)
    recs = [r for r in sniff.records() if c2s in r["data"] or s2c in r["data"]]
    assert sorted((r["func"], r["data"], r["lib"]) for r in recs) == [
        ("READ/RECV", s2c + "\n", "gnutls"), ("WRITE/SEND", c2s + "\n", "gnutls")], recs


def test_nss_client(certs, tmp_path):
    """NSS's tstclnt (an empty certificate database, the server's certificate overridden
    with -o): NSPR's PR_Write/PR_Read carry the plaintext."""
    cert, key = certs
    db = tmp_path / "nssdb"
    db.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True)
    port = _free_port()
    c2s, s2c = _markers("N2S", "S2N")
    sniff = Sniff("--json", "-c", "tstclnt")
    server = _s_server(cert, key, port)
    _exchange(server, ["tstclnt", "-h", "127.0.0.1", "-p", str(port), "-o", "-d", f"sql:{db}"],
              c2s, s2c)
    recs = [r for r in sniff.records() if r["lib"] == "nss"]
    # tstclnt also reads its stdin with PR_Read: plain data, reported as NSS reads too
    assert ("WRITE/SEND", c2s + "\n") in [(r["func"], r["data"]) for r in recs], recs
    assert ("READ/RECV", s2c + "\n") in [(r["func"], r["data"]) for r in recs], recs


def test_pid_in_another_mount_namespace_probes_its_own_library(certs, tmp_path):
    """A "container": the server runs in its own mount namespace with a private copy of
    libssl bind-mounted over the usual path.  -p must probe that copy (a probe on the
    host's file would never fire), reached through /proc/<pid>/root."""
    cert, key = certs
    libssl = os.path.realpath("/usr/lib/x86_64-linux-gnu/libssl.so.3")
    copy = tmp_path / "libssl-copy.so"
    copy.write_bytes(open(libssl, "rb").read())
    port = _free_port()
    c2s, s2c = _markers()
    server = _s_server(cert, key, port, prefix=(
        "unshare", "--mount", "sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh",
        str(copy), libssl))
    try:
        with open(f"/proc/{server.pid}/maps") as f:
            assert str(copy) not in f.read()        # it maps "libssl.so.3", another inode
        sniff = Sniff("--json", "-p", str(server.pid), "--no-gnutls", "--no-nss")
        _exchange(server, _s_client(port), c2s, s2c)
    finally:
        server.kill()
        server.wait()
    recs = sniff.records()
    assert sorted((r["func"], r["data"]) for r in recs) == [
        ("READ/RECV", c2s + "\n"), ("WRITE/SEND", s2c + "\n")], recs


STATIC_CLIENT = r"""
#include <openssl/ssl.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    char buf[256];
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (void *)&a, sizeof(a)))
        return 1;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1)
        return 2;
    SSL_write(ssl, argv[2], strlen(argv[2]));
    int n = SSL_read(ssl, buf, sizeof(buf) - 1);
    return n > 0 ? 0 : 3;
}
"""


def test_statically_linked_binary_through_extra_lib(certs, tmp_path):
    cert, key = certs
    (tmp_path / "c.c").write_text(STATIC_CLIENT)
    exe = tmp_path / "pt_static_tls"
    subprocess.run(["gcc", "-O1", "-o", str(exe), str(tmp_path / "c.c"),
                    "-Wl,-Bstatic", "-lssl", "-lcrypto", "-Wl,-Bdynamic", "-lpthread"],
                   check=True, capture_output=True)
    out = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert "libssl" not in out
    port = _free_port()
    server = _s_server(cert, key, port)
    marker = f"STATIC-{uuid.uuid4().hex}"
    try:
        sniff = Sniff("--json", "-c", "pt_static_tls", "--extra-lib", f"openssl:{exe}")
        client = subprocess.Popen([str(exe), str(port), marker])
        _read_until(server.stdout, marker.encode())
        server.stdin.write(b"reply\n")
        server.stdin.flush()
        assert client.wait(timeout=15) == 0
    finally:
        server.kill()
        server.wait()
    recs = sniff.records()
    assert [(r["func"], r["data"]) for r in recs] == [("WRITE/SEND", marker),
                                                      ("READ/RECV", "reply\n")], recs


def test_bad_arguments_are_one_line(tmp_path):
    for args, status, text in (
            (["--extra-lib", "foo"], 2, "expected openssl|gnutls|nss:PATH"),
            (["--max-buffer-size", "0"], 2, "0 is out of range for a size"),
            (["--extra-lib", f"openssl:{tmp_path}/none"], 1, "no such file"),
            (["-p", "4000000"], 1, "process 4000000")):
        p = subprocess.run(TOOL + args, capture_output=True, text=True, env=ENV)
        assert p.returncode == status, p
        assert len(p.stderr.strip().splitlines()) == 1 and text in p.stderr, p
        assert p.stderr.startswith("pybpf sslsniff: error: "), p
        assert "errno" not in p.stderr, p          # what is missing, not ENOENT's text
