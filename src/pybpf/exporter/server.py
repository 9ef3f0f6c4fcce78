"""HTTP for the exporter: ``/metrics`` (the Prometheus text format) and a small index page,
a thread per connection (a scraper keeping its connection open blocks no one), scrapes
one at a time (the exporter's lock)."""

from __future__ import annotations

import http.server
import socket
import time

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``, or ``:PORT`` for 127.0.0.1) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen takes HOST:PORT, not {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "pybpf-exporter"
    protocol_version = "HTTP/1.1"
    timeout = 60            # an idle kept-alive connection ends, and its thread with it

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            ex = self.server.exporter
            with self.server.lock:
                t0 = time.perf_counter()
                body = ex.scrape()
                gz = "gzip" in self.headers.get("Accept-Encoding", "")
                if gz:                  # as Prometheus asks: 400 KB of text is ~40 KB
                    import gzip
                    body = gzip.compress(body, compresslevel=1)
                self._send(200, CONTENT_TYPE, body, gz)
                ex.last_scrape_seconds = time.perf_counter() - t0
        elif path == "/":
            self._send(200, "text/html; charset=utf-8",
                       b"<html><head><title>pybpf exporter</title></head><body>"
                       b"<h1>pybpf exporter</h1><p><a href=\"/metrics\">Metrics</a></p>"
                       b"</body></html>\n")
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics\n")

    def _send(self, code: int, ctype: str, body: bytes, gzipped: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format, *args):   # no per-request lines on stderr
        pass


class Server(http.server.ThreadingHTTPServer):
    """Serves one :class:`~.core.Exporter` at (host, port); port 0 picks a free one."""

    def __init__(self, exporter, host: str, port: int):
        import threading
        self.exporter = exporter
        self.lock = threading.Lock()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/metrics"
