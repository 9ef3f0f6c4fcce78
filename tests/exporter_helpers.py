"""Shared by the exporter's kernel tests: run ``pybpf exporter`` and read its /metrics."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


class ExporterProcess:
    """``pybpf exporter ARGS --listen 127.0.0.1:0`` in the background; ``url`` once it
    serves.  ``stop()`` ends it with SIGTERM and returns its exit code."""

    def __init__(self, *args: str, timeout: float = 120):
        env = dict(os.environ, PYTHONPATH=SRC)
        self.p = subprocess.Popen([sys.executable, "-m", "pybpf", "exporter", *args,
                                   "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + timeout
        fd = self.p.stderr.fileno()
        buf = b""
        self.early_lines: list[str] = []      # what it said before serving (errors)
        while time.monotonic() < deadline:
            # raw reads: a buffered readline() after select() can hold a second line
            # in its buffer where select() no longer sees it
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode(errors="replace")
                    m = re.search(r"serving (http://\S+/metrics)", line)
                    if m:
                        self.url = m.group(1)
                        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
                        return
                    self.early_lines.append(line)
            elif self.p.poll() is not None:
                break
        rest = buf.decode(errors="replace")
        self.stop()
        raise AssertionError(f"exporter did not start: {' | '.join(self.early_lines)}{rest}")

    def text(self) -> str:
        with urllib.request.urlopen(self.url, timeout=30) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return r.read().decode()

    def samples(self) -> dict:
        """(sample name, sorted label items) -> value, from one scrape."""
        return samples(self.text())

    def stop(self) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for f in (self.p.stdout, self.p.stderr):
            f.close()
        return self.p.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def samples(text: str) -> dict:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples_: dict, name: str, **labels) -> float:
    return samples_.get((name, tuple(sorted(labels.items()))), 0.0)


def scratch_dir():
    """A temporary directory removed afterwards (pytest's tmp_path keeps the last runs')."""
    import pathlib
    import tempfile
    with tempfile.TemporaryDirectory(prefix="pt-exporter-") as d:
        yield pathlib.Path(d)
