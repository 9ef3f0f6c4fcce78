"""Entries for the systemd journal over journald's native socket (what sd_journal_send
does, without libsystemd or python-systemd): one datagram per entry, ``KEY=value`` lines,
and the length-prefixed form for a value holding a newline.  For tcpstates -Y."""

from __future__ import annotations

import os
import socket
import struct

SOCKET = "/run/systemd/journal/socket"
SEND_TIMEOUT = 0.2   # seconds one entry may wait for room in journald's queue
STALL = 1.0          # seconds without waiting after a wait in vain


def encode(fields: dict) -> bytes:
    """One entry's datagram.  Keys are journal field names (upper case, digits, ``_``);
    values become text."""
    out = bytearray()
    for key, value in fields.items():
        data = str(value).encode("utf-8", "replace")
        k = key.encode("ascii")
        if b"\n" in data:
            out += k + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += k + b"=" + data + b"\n"
    return bytes(out)


class Journal:
    """A connection to journald's socket (``path``, by default systemd's; the
    environment's PYBPF_JOURNAL_SOCKET names another, as tests and containers need).
    ``send`` counts entries it could not deliver in ``failed``; a context manager."""

    def __init__(self, path: str | None = None):
        self.path = path or os.environ.get("PYBPF_JOURNAL_SOCKET") or SOCKET
        self.failed = 0
        self.stalled = False
        self._stall_end = 0.0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(SEND_TIMEOUT)
        try:
            self.sock.connect(self.path)
        except OSError as e:
            self.sock.close()
            from .. import errors
            raise errors.PybpfError(f"no systemd journal at {self.path}: "
                                    f"{e.strerror or e}") from None

    def send(self, fields: dict) -> bool:
        import time
        if self.stalled and time.monotonic() >= self._stall_end:
            self.stalled = False
            self.sock.settimeout(SEND_TIMEOUT)      # worth waiting for room again
        try:
            # sd_journal_send (bcc's -Y) blocks while journald's queue is full; a unix
            # datagram queue holds only net.unix.max_dgram_qlen (10) entries, so a burst
            # fills it at once.  Wait as long as SEND_TIMEOUT for room, no longer: a
            # stalled journald must not stall the event loop.  After one wait in vain,
            # none for STALL seconds (the socket's timeout is 0): a journald that takes an
            # entry now and then would otherwise cost SEND_TIMEOUT per entry (over 30 s
            # to drain after a Ctrl-C once).
            self.sock.send(encode(fields))
            return True
        except OSError:
            # journald gone, or its queue still full: the entry is lost, and counted
            self.failed += 1
            if not self.stalled:
                self.stalled = True
                self._stall_end = time.monotonic() + STALL
                self.sock.settimeout(0.0)
            return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
