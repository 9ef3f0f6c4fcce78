"""A real Prometheus (Debian's server) scrapes ``pybpf exporter`` on loopback; its query
API shows the exec counter of a marker command rising by exactly the execs we made."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from tests.exporter_helpers import ExporterProcess, scratch_dir

pytestmark = pytest.mark.kernel

scratch = pytest.fixture(scratch_dir)

PROMETHEUS = "/usr/bin/prometheus"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Prometheus:
    """``prometheus`` with a temporary config and storage, scraping ``target`` every
    second; ``query(expr)`` asks its HTTP API."""

    def __init__(self, target: str, workdir):
        if not os.path.exists(PROMETHEUS):
            pytest.fail(f"{PROMETHEUS} is missing: scripts/setup installs Debian's "
                        "prometheus package")
        cfg = workdir / "prometheus.yml"
        cfg.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: pybpf\n    static_configs:\n"
            f"      - targets: ['{target}']\n")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "prometheus.log", "wb")
        self.p = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        self._wait(lambda: self._get("/-/ready") is not None, "ready")

    def _get(self, path: str):
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as r:
                return r.read()
        except OSError:
            if self.p.poll() is not None:
                raise AssertionError(f"prometheus exited ({self.p.returncode})")
            return None

    def query(self, expr: str) -> list:
        raw = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        if raw is None:
            return []
        data = json.loads(raw)
        assert data["status"] == "success", data
        return data["data"]["result"]

    def value(self, expr: str) -> float | None:
        res = self.query(expr)
        assert len(res) <= 1, res
        return float(res[0]["value"][1]) if res else None

    def _wait(self, cond, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.2)
        raise AssertionError(f"prometheus: not {what} within {timeout} s")

    def wait_value(self, expr: str, want: float, timeout: float = 30) -> None:
        self._wait(lambda: self.value(expr) == want, f"{expr} == {want}", timeout)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def test_prometheus_scrapes_the_exec_counter(scratch):
    marker = f"pt-pm{os.getpid()}"[:15]
    shutil.copy("/bin/true", scratch / marker)
    (scratch / "prom").mkdir()
    with ExporterProcess("--config", "exec") as ex:
        prom = Prometheus(f"127.0.0.1:{ex.port}", scratch / "prom")
        try:
            prom.wait_value('up{job="pybpf"}', 1)
            series = f'ebpf_exec_total{{job="pybpf",comm="{marker}"}}'
            for _ in range(2):
                subprocess.run([str(scratch / marker)], check=True)
            prom.wait_value(series, 2)
            for _ in range(5):
                subprocess.run([str(scratch / marker)], check=True)
            prom.wait_value(series, 7)
            # the rise Prometheus stored: exactly the 5 execs (no reset, no extrapolation)
            assert prom.value(f"max_over_time({series}[1m]) - "
                              f"min_over_time({series}[1m])") == 5
            # the exporter's own health is scraped too
            assert prom.value('pybpf_exporter_scrapes_total{job="pybpf"}') >= 2
            assert prom.value('pybpf_exporter_series{job="pybpf",'
                              'metric="ebpf_exec_total"}') >= 1
        finally:
            prom.stop()
