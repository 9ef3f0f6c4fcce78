"""``bcc.syscall``: system call numbers to names for this machine.

The table comes from the C library's ``asm/unistd_64.h`` (``#define __NR_read 0``), the
kernel's own numbering as installed with the system headers; absent that, every name is
``[unknown: N]``.
"""

from __future__ import annotations

import re

_HEADERS = ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h",
            "/usr/include/aarch64-linux-gnu/asm/unistd.h", "/usr/include/asm-generic/unistd.h")


def parse_unistd(text: bytes) -> dict[int, bytes]:
    """``{0: b"read", ...}`` from a unistd header's ``#define __NR_x n`` lines."""
    out: dict[int, bytes] = {}
    for m in re.finditer(rb"^#define\s+__NR_(\w+)\s+(\d+)\s*$", text, re.M):
        out.setdefault(int(m.group(2)), m.group(1))
    return out


def _load() -> dict[int, bytes]:
    for path in _HEADERS:
        try:
            with open(path, "rb") as f:
                table = parse_unistd(f.read())
        except OSError:
            continue
        if table:
            return table
    return {}


syscalls = _load()


def syscall_name(syscall_num: int) -> bytes:
    """The name of system call ``syscall_num``, as bytes (bcc's spelling)."""
    return syscalls.get(syscall_num, b"[unknown: %d]" % syscall_num)
