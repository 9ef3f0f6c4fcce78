"""tools/_journal.py: journald's native datagram format, and a missing journal."""

from __future__ import annotations

import struct

import pytest

from pybpf import errors
from pybpf.tools import _journal


def test_encode_plain_and_multiline_values():
    got = _journal.encode({"MESSAGE": "a \u2192 b", "PRIORITY": 5, "X": "two\nlines"})
    assert got == ("MESSAGE=a \u2192 b\nPRIORITY=5\n".encode()
                   + b"X\n" + struct.pack("<Q", 9) + b"two\nlines\n")


def test_missing_journal_is_one_error(tmp_path):
    with pytest.raises(errors.PybpfError) as e:
        _journal.Journal(str(tmp_path / "none"))
    assert str(e.value) == f"no systemd journal at {tmp_path / 'none'}: No such file or directory"


def test_send_counts_what_it_could_not_deliver(tmp_path):
    import socket
    path = str(tmp_path / "j")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    with _journal.Journal(path) as j:
        assert j.send({"MESSAGE": "hi"})
        assert s.recv(100) == b"MESSAGE=hi\n"
        s.close()                   # journald gone
        assert not j.send({"MESSAGE": "lost"}) and j.failed == 1
