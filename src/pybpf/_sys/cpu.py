"""CPU numbering as BPF sees it: per-CPU maps and perf rings span every *possible* CPU."""

from __future__ import annotations


def possible_cpus() -> list[int]:
    """CPU numbers from /sys/devices/system/cpu/possible (e.g. "0-3,8")."""
    with open("/sys/devices/system/cpu/possible") as f:
        text = f.read().strip()
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus
