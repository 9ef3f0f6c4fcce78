"""Small helpers bcc scripts import from ``bcc.utils``."""

from __future__ import annotations

import sys


def printb(s: bytes, file=sys.stdout, nl: int = 1) -> None:
    """Write bytes to a text stream's buffer (bcc's printb)."""
    buf = getattr(file, "buffer", file)
    buf.write(s + (b"\n" if nl else b""))
    file.flush()
