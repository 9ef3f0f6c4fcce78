"""Small system facts the top-like tools print."""

from __future__ import annotations


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return ""
