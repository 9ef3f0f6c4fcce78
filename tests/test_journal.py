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


def test_a_burst_past_the_queue_waits_for_room_and_a_stalled_journal_counts(tmp_path):
    """A unix datagram queue holds net.unix.max_dgram_qlen (10) entries: a burst of 50 to
    a reader that drains late is delivered whole (bcc's sd_journal_send blocks too); a
    reader that never drains costs one SEND_TIMEOUT, then each entry is counted as lost
    at once for STALL seconds."""
    import socket
    import threading
    import time
    path = str(tmp_path / "j")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    got = []

    def late_reader():
        time.sleep(0.05)
        s.settimeout(1.0)
        while len(got) < 50:
            got.append(s.recv(100))
    reader = threading.Thread(target=late_reader)
    reader.start()
    with _journal.Journal(path) as j:
        sent = [j.send({"MESSAGE": str(i)}) for i in range(50)]
        reader.join()
        assert all(sent) and j.failed == 0
        assert got == [f"MESSAGE={i}\n".encode() for i in range(50)]
        t0 = time.monotonic()
        results = [j.send({"MESSAGE": "x"}) for _ in range(30)]   # nobody reads now
        assert j.failed == results.count(False) >= 30 - 11   # 10 queued, 1 over (the kernel)
        # one wait of SEND_TIMEOUT in vain, then no more waiting while it stays full
        assert time.monotonic() - t0 < 2 * _journal.SEND_TIMEOUT and j.stalled
        s.recv(100)                                          # room again: taken
        assert j.send({"MESSAGE": "y"})
        j._stall_end = 0.0                                   # the STALL window is over:
        assert not j.send({"MESSAGE": "z"}) and j.stalled    # a send waits again, in vain
        assert j.failed == results.count(False) + 1
    s.close()


def test_a_journal_that_takes_an_entry_now_and_then_costs_one_wait_per_stall(tmp_path,
                                                                             monkeypatch):
    """A full queue that frees one slot between sends (a slow journald): a wait in vain
    starts a STALL window without waits, so 40 sends cost at most one SEND_TIMEOUT per
    window, not one per lost entry."""
    import socket
    import time
    monkeypatch.setattr(_journal, "STALL", 10.0)
    path = str(tmp_path / "j")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.setblocking(False)
    with _journal.Journal(path) as j:
        while j.send({"MESSAGE": "fill"}):      # up to the queue's length, one wait
            pass
        t0 = time.monotonic()
        for i in range(40):
            s.recv(100)                         # one slot free ...
            assert j.send({"MESSAGE": str(i)})  # ... taken at once
            assert not j.send({"MESSAGE": "over"})      # full again: lost, no wait
        assert time.monotonic() - t0 < _journal.SEND_TIMEOUT
        assert j.failed == 41 and j.stalled
