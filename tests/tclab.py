"""A bench for tc programs, shared by tests/test_iproute2_objects.py and
bench/bench_iproute2_objects.py: veth ``va`` <-> ``vb`` in a fresh network namespace
(IPv6 off: no frames but ours), a bpffs on a temp dir (pybpf's pins and tc's
TC_BPF_MNT), a tracefs instance of its own receiving bpf_trace_printk lines (the global
trace buffer is left alone)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from tests.netns import entered

N = 5                      # frames a test sends


class Lab:
    """The pair of links, the bpffs at ``mnt`` and the trace instance at ``trace``."""

    def __init__(self, mnt: str, trace: str):
        self.mnt, self.trace = mnt, trace
        self.tc_globals = os.path.join(mnt, "tc", "globals")
        self.root = os.path.join(mnt, "pybpf")
        out = subprocess.run(["ip", "-j", "link", "show", "dev", "vb"], check=True,
                             capture_output=True, text=True).stdout
        self.vb_mac = bytes.fromhex(json.loads(out)[0]["address"].replace(":", ""))

    def send(self, n: int = N) -> None:
        """``n`` frames out of va (its egress hook), into vb (its ingress hook)."""
        frame = self.vb_mac + b"\x02\0\0\0\0\1" + b"\x88\xb5" + b"pybpf-tc-lab".ljust(46)
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind(("va", 0))
            for _ in range(n):
                s.send(frame)

    def rx(self) -> int:
        """vb's received frames (/proc/net is this netns's; /sys/class/net is not)."""
        with open("/proc/self/net/dev") as f:
            row = next(ln for ln in f if ln.strip().startswith("vb:"))
        return int(row.split(":", 1)[1].split()[1])

    def wait_rx(self, before: int) -> int:
        """vb's frames past ``before``, waiting up to 2 s for one (the backlog)."""
        for _ in range(40):
            if self.rx() > before:
                break
            time.sleep(0.05)
        return self.rx() - before

    def clear_trace(self) -> None:
        with open(os.path.join(self.trace, "trace"), "w"):
            pass

    def printed(self, want: int, prefix: str) -> list[str]:
        """The trace_printk lines starting with ``prefix`` (waiting up to 2 s for ``want``
        of them: vb's ingress runs from the backlog, maybe on the other CPU).  The event
        is system-wide: other programs' lines reach this instance too, hence prefixes."""
        for _ in range(40):
            with open(os.path.join(self.trace, "trace")) as f:
                lines = [ln.split("bpf_trace_printk: ", 1)[1].strip() for ln in f
                         if "bpf_trace_printk: " in ln]
            lines = [ln for ln in lines if ln.startswith(prefix)]
            if len(lines) >= want:
                return lines
            time.sleep(0.05)
        return lines

    def tc(self, *args: str) -> str:
        """Debian's tc with its bpffs here (TC_BPF_MNT); asserts it succeeded."""
        r = subprocess.run(["tc", *args], capture_output=True, text=True,
                           env={**os.environ, "TC_BPF_MNT": self.mnt})
        assert r.returncode == 0, r.stderr
        return r.stdout

    def reset(self) -> None:
        """No filters or pins left from the run before (the mount's own files stay)."""
        for dev in ("va", "vb"):
            subprocess.run(["tc", "qdisc", "del", "dev", dev, "clsact"], capture_output=True)
        for name in os.listdir(self.mnt):
            p = os.path.join(self.mnt, name)
            if os.path.islink(p):                   # tc's "ip" and "xdp" -> "tc"
                os.unlink(p)
            elif os.path.isdir(p):
                shutil.rmtree(p)


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@contextlib.contextmanager
def lab(prefix: str):
    """A :class:`Lab` in a netns ``<prefix>-<pid>``; everything goes when the block ends."""
    from pybpf import bpffs, tracefs
    with entered(prefix):
        for conf in ("all", "default"):
            with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as f:
                f.write("1")
        _sh("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
        _sh("ip", "link", "set", "va", "up")
        _sh("ip", "link", "set", "vb", "up")
        mnt = tempfile.mkdtemp(prefix=f"{prefix}-")
        trace = os.path.join(tracefs.root(), "instances", f"{prefix}-{os.getpid()}")
        bpffs.mount(mnt, "bpf", "bpf")
        try:
            os.mkdir(trace)
            try:
                with open(os.path.join(trace, "events", "bpf_trace", "bpf_trace_printk",
                                       "enable"), "w") as f:
                    f.write("1")
                yield Lab(mnt, trace)
            finally:
                os.rmdir(trace)
        finally:
            subprocess.run(["umount", mnt], check=True)
            os.rmdir(mnt)


def u32(m, key: int) -> int:
    """Map ``m``'s 4-byte value at ``key``."""
    return int.from_bytes(m.lookup_raw(key), "little")


def values(lines: list[str], prefix: str) -> list[int]:
    """The numbers right after ``prefix`` in ``lines``, sorted."""
    return sorted(int(ln[len(prefix):].split()[0]) for ln in lines if ln.startswith(prefix))


def shape(m) -> tuple:
    i = m.info()
    return (i.type, i.key_size, i.value_size, i.max_entries, i.flags)
