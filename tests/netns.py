"""Network namespaces for tests: a fresh one with lo up, entered by this process (the
test's sockets and BPF links live there and go with it)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess

CLONE_NEWNET = 0x40000000


def setns(fd: int) -> None:
    """Enter the network namespace of ``fd`` (os.setns needs Python 3.12)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


@contextlib.contextmanager
def entered(prefix: str):
    """A new namespace ``<prefix>-<pid>`` with lo up; this process runs inside it until
    the block ends, then the namespace is deleted."""
    name = f"{prefix}-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    me = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True,
                       capture_output=True)
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            setns(target)
        finally:
            os.close(target)
        try:
            yield name
        finally:
            setns(me)
    finally:
        os.close(me)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
