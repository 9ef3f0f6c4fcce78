"""pybpf killsnoop against signals of known number sent to known targets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.toolrun import SRC, ToolRun

pytestmark = pytest.mark.kernel


def test_kill_and_failed_kill_with_signal_filter():
    victim = subprocess.Popen(["sleep", "30"])
    t = ToolRun("killsnoop", "-p", str(os.getpid()), ready="RESULT")
    os.kill(victim.pid, signal.SIGUSR2)
    victim.wait()
    try:
        os.kill(4194305, signal.SIGTERM)   # above PID_MAX_LIMIT: ESRCH
    except ProcessLookupError:
        pass
    _kill_missing(signal.SIGHUP, group=True)   # kill(-pgid): a negative target, as bcc's
    lines = t.stop()
    assert lines[0].split() == ["TIME", "PID", "COMM", "SIG", "TPID", "RESULT"]
    rows = [ln.split() for ln in lines[1:]]
    assert [os.getpid(), int(signal.SIGUSR2), victim.pid, 0] in [
        [int(r[1]), int(r[3]), int(r[4]), int(r[5])] for r in rows]
    assert any(int(r[3]) == signal.SIGTERM and int(r[5]) == -3 for r in rows)   # -ESRCH
    assert [int(r[4]) for r in rows if int(r[3]) == signal.SIGHUP] == [-4194305]

    victim = subprocess.Popen(["sleep", "30"])
    t = ToolRun("killsnoop", "-s", "SIGUSR1", "-x", "--json")
    t.wait_for('"result":-3', trigger=lambda: _kill_missing(signal.SIGUSR1))
    os.kill(victim.pid, signal.SIGUSR1)      # succeeds: hidden by -x
    victim.wait()
    _kill_missing(signal.SIGTERM)            # other signal: hidden by -s
    _kill_missing(signal.SIGUSR1, group=True)
    t.stop()
    recs = t.json()
    assert recs and all(r["sig"] == signal.SIGUSR1 and r["result"] == -3 for r in recs)
    assert {r["tpid"] for r in recs} == {4194305, -4194305}
    assert set(recs[0]) == {"time", "pid", "comm", "sig", "tpid", "result"}


def test_target_pid_filter():
    """-T: two kills from this process, only the one to the marked target shows."""
    marked, other = (subprocess.Popen(["sleep", "30"]) for _ in range(2))
    t = ToolRun("killsnoop", "-T", str(marked.pid), ready="RESULT")
    os.kill(other.pid, signal.SIGUSR2)
    os.kill(marked.pid, signal.SIGUSR1)
    for p in (marked, other):
        p.wait()
    rows = [ln.split() for ln in t.stop()[1:]]
    assert [[int(r[1]), int(r[3]), int(r[4])] for r in rows] == [
        [os.getpid(), int(signal.SIGUSR1), marked.pid]]


def _kill_missing(sig, group=False):
    try:
        os.kill(-4194305 if group else 4194305, sig)   # above PID_MAX_LIMIT
    except ProcessLookupError:
        pass


def test_tkill_and_tgkill_show_target_and_signal():
    """tkill() and tgkill() share kill()'s programs (one enter for kill/tkill, one exit for
    all three): each call still shows its own target, signal and result."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    victim = subprocess.Popen(["sleep", "30"])
    t = ToolRun("killsnoop", "-p", str(os.getpid()), ready="RESULT")
    nr = {"tkill": _nr("tkill"), "tgkill": _nr("tgkill")}
    # SIGURG and SIGWINCH are ignored by default: the victim lives for both calls
    assert libc.syscall(nr["tkill"], victim.pid, int(signal.SIGURG)) == 0
    assert libc.syscall(nr["tkill"], 4194305, int(signal.SIGHUP)) == -1     # ESRCH
    assert libc.syscall(nr["tgkill"], victim.pid, 4194305, int(signal.SIGALRM)) == -1
    assert libc.syscall(nr["tgkill"], victim.pid, victim.pid, int(signal.SIGWINCH)) == 0
    victim.kill()
    victim.wait()
    rows = [[int(x) for x in ln.split()[3:6]] for ln in t.stop()[1:]]
    rows = [r for r in rows if r[1] in (victim.pid, 4194305) and r[0] != signal.SIGKILL]
    assert rows == [[int(signal.SIGURG), victim.pid, 0], [int(signal.SIGHUP), 4194305, -3],
                    [int(signal.SIGALRM), 4194305, -3], [int(signal.SIGWINCH), victim.pid, 0]]


def _nr(name):
    """The syscall number of tkill/tgkill on this machine's architecture."""
    import platform
    table = {"x86_64": {"tkill": 200, "tgkill": 234}, "aarch64": {"tkill": 130, "tgkill": 131}}
    arch = platform.machine()
    if arch not in table:
        pytest.skip(f"no syscall numbers for {arch}")
    return table[arch][name]


def test_signal_option_range():
    """-s (killsnoop, sigsnoop): 0 to 64 by number, names as bcc; 65 and up (no such signal,
    the filter would never match, and bcc ran on silently) are refused in one line."""
    from pybpf.tools import _signals
    assert [_signals.signal_number(s) for s in ("0", "10", "64", "USR1", "sigkill")] == \
        [0, 10, 64, 10, 9]
    for bad in ("65", "99", "NOSUCH", "-3"):
        with pytest.raises(Exception, match="signal"):
            _signals.signal_number(bad)
    for tool in ("killsnoop", "sigsnoop"):
        r = subprocess.run([sys.executable, "-m", "pybpf", tool, "-s", "99"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=SRC))
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and "out of range (0 to 64)" in r.stderr
