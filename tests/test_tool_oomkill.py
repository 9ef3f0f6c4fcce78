"""pybpf oomkill: a child in a 32 MB memory cgroup that allocates 200 MB is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

import pytest

from tests.toolrun import ToolRun

pytestmark = pytest.mark.kernel

HOG = ("import os, sys\nsys.stdin.readline()\nb = []\n"
       "for _ in range(200): b.append(bytearray(1 << 20))\n")


class MemoryCgroup:
    """A memory-limited cgroup (v2 where the memory controller is there, else v1)."""

    def __init__(self, limit: int):
        v2 = "/sys/fs/cgroup"
        try:
            with open(os.path.join(v2, "cgroup.controllers")) as f:
                has_v2 = "memory" in f.read().split()
        except OSError:
            has_v2 = False
        base = v2 if has_v2 else "/sys/fs/cgroup/memory"
        self.path = tempfile.mkdtemp(prefix="pybpf-oom-", dir=base)
        if has_v2:
            if not os.path.exists(os.path.join(self.path, "memory.max")):
                # the controller is off below the root (the guest: no systemd turned it on)
                self._write("../cgroup.subtree_control", "+memory")
            self._write("memory.max", str(limit))
            if os.path.exists(os.path.join(self.path, "memory.swap.max")):
                self._write("memory.swap.max", "0")
        else:
            self._write("memory.limit_in_bytes", str(limit))
            self._write("memory.swappiness", "0")

    def _write(self, name: str, value: str) -> None:
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def add(self, pid: int) -> None:
        self._write("cgroup.procs", str(pid))

    def close(self) -> None:
        os.rmdir(self.path)


def test_oom_victim_and_trigger_named():
    cg = MemoryCgroup(32 << 20)
    try:
        hog = subprocess.Popen([sys.executable, "-c", HOG], stdin=subprocess.PIPE)
        cg.add(hog.pid)
        t = ToolRun("oomkill", ready="Tracing OOM kills")
        hog.stdin.write(b"go\n")
        hog.stdin.flush()
        hog.wait(timeout=30)
        assert hog.returncode == -signal.SIGKILL
        t.wait_for(f"OOM kill of PID {hog.pid} ", timeout=10)
        t.stop()
    finally:
        hog.kill()
        hog.wait()
        cg.close()
    (row,) = [ln for ln in t.out if f"OOM kill of PID {hog.pid} " in ln]
    assert f'Triggered by PID {hog.pid} ("python' in row, row
    total_vm = int(row.split("total-vm ")[1].split("kB")[0])
    anon = int(row.split("anon-rss ")[1].split("kB")[0])
    assert total_vm > 32 << 10 and 16 << 10 < anon < total_vm, row
