"""An owned file descriptor for a kernel object (map, program, link, BTF, perf event)."""

from __future__ import annotations

import os

from ._sys import syscall


class FD:
    """Owns one fd: ``close()`` is idempotent, ``with`` closes it, ``fileno()`` reads it.

    Kernel objects live as long as some fd, pin or attachment refers to them,
    so closing deterministically is what frees them; nothing waits for GC.
    """

    __slots__ = ("_fd",)

    def __init__(self, fd: int):
        if fd < 0:
            raise ValueError(f"invalid fd {fd}")
        self._fd = fd

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("operation on closed fd")
        return self._fd

    def __int__(self) -> int:
        return self.fileno()

    # usable where an fd number is expected: os.fstat(prog.fd), "%d" % map.fd, fd > 0
    __index__ = __int__

    def __lt__(self, other) -> bool:
        return self.fileno() < int(other)

    def __le__(self, other) -> bool:
        return self.fileno() <= int(other)

    def __gt__(self, other) -> bool:
        return self.fileno() > int(other)

    def __ge__(self, other) -> bool:
        return self.fileno() >= int(other)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            syscall.close(fd)

    def dup(self) -> "FD":
        """A second fd for the same object (both must be closed)."""
        return FD(os.dup(self.fileno()))

    def __enter__(self) -> "FD":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FD({self._fd})" if self._fd >= 0 else "FD(closed)"
