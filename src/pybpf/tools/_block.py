"""What the block tools share: request flags in bcc's words and disk names."""

from __future__ import annotations

import os

REQ_OPS = {0: "Read", 1: "Write", 2: "Flush", 3: "Discard", 5: "SecureErase",
           9: "WriteZeros", 10: "ZoneOpen", 11: "ZoneClose", 12: "ZoneFinish",
           13: "ZoneAppend", 15: "ZoneReset", 17: "ZoneResetAll", 34: "DrvIn", 35: "DrvOut"}
SYNC, META, FUA, PREFLUSH, RAHEAD = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12


def flags_text(flags: int) -> str:
    """bcc biolatency -F's description: ``Sync-Write``, ``ReadAhead-Read``..."""
    desc = REQ_OPS.get(flags & 0xFF, "Unknown")
    for bit, word in ((SYNC, "Sync"), (META, "Metadata"), (FUA, "ForcedUnitAccess"),
                      (PREFLUSH, "PreFlush"), (RAHEAD, "ReadAhead")):
        if flags & bit:
            desc = f"{word}-{desc}"
    return desc


def rwbs(flags: int) -> str:
    """biosnoop's T column: R for reads, W for writes, else the op's initial."""
    op = flags & 0xFF
    return "R" if op == 0 else "W" if op == 1 else REQ_OPS.get(op, "?")[0]


class Disks:
    """dev_t (major << 20 | minor, the kernel's) -> disk name, from /sys/block."""

    def __init__(self):
        self.names: dict[int, str] = {}
        try:
            for name in os.listdir("/sys/block"):
                try:
                    with open(f"/sys/block/{name}/dev") as f:
                        major, minor = (int(x) for x in f.read().split(":"))
                except (OSError, ValueError):
                    continue
                self.names[(major << 20) | minor] = name
        except OSError:
            pass

    def name(self, dev: int) -> str:
        if dev not in self.names:
            self.__init__()
        return self.names.get(dev, "?" if not dev else f"{dev >> 20}:{dev & 0xFFFFF}")

    def by_name(self, name: str) -> int | None:
        for dev, n in self.names.items():
            if n == name:
                return dev
        return None
