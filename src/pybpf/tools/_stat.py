"""Small system facts the top-like tools print."""

from __future__ import annotations


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return ""


def top_screen(out, noclear: bool, when: str) -> None:
    """Start a top-like tool's screen (biotop, filetop): clear it when writing to a
    terminal (unless -C), else a blank line between intervals; then the time and load."""
    w = out.stream.write
    w("\n" if noclear or not out.interactive else "\033[2J\033[H")
    w("%-8s loadavg: %s\n\n" % (when, loadavg()))
