"""pybpf exitsnoop against processes ending with a known code or signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.toolrun import ToolRun

pytestmark = pytest.mark.kernel


def test_exit_code_signal_and_failed_only():
    t = ToolRun("exitsnoop", ready="EXIT_CODE")
    ok = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    ok.wait()
    bad = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"])
    bad.wait()
    killed = subprocess.Popen(["sleep", "30"])
    os.kill(killed.pid, signal.SIGUSR1)
    killed.wait()
    lines = t.stop()

    def row(pid):
        (r,) = [ln for ln in lines if ln.split()[1:2] == [str(pid)]]
        return r
    f = row(ok.pid).split()
    assert f[2] == str(os.getpid()) and f[3] == str(ok.pid)
    assert 0.15 <= float(f[4]) < 10 and f[5] == "0"
    assert row(bad.pid).endswith("code 7")
    assert row(killed.pid).split(None, 5)[5] == "signal 10 (SIGUSR1)"

    t = ToolRun("exitsnoop", "-x", "--json")
    procs = []

    def trigger():
        p = subprocess.Popen(["sh", "-c", "exit 3"])
        p.wait()
        procs.append(p.pid)
    t.wait_for('"exit_code":3', trigger=trigger)
    good = subprocess.Popen(["true"])
    good.wait()
    recs = t.json()
    t.stop()
    mine = [r for r in recs if r["pid"] in procs]
    assert mine and all(r["exit_code"] == 3 and r["signal"] == 0 for r in mine)
    assert mine[0]["comm"] == "sh" and mine[0]["ppid"] == os.getpid()
    assert not [r for r in t.json() if r["pid"] == good.pid]


def test_timestamp_zone_title_milliseconds_and_empty_label():
    """-t as bcc's: the title names the zone (TIME-UTC, TIME-CET, from strftime %Z), the
    column has milliseconds (HH:MM:SS.mmm); --label= (empty) labels rows "exit"."""
    import re
    import time
    t = ToolRun("exitsnoop", "-t", "--label=", "-x", ready="EXIT_CODE")
    procs = []

    def trigger():
        p = subprocess.Popen(["sh", "-c", "exit 5"])
        p.wait()
        procs.append(str(p.pid))
    t.wait_for("code 5", trigger=trigger)
    lines = t.stop()
    assert lines[0].split() == ["TIME-" + time.strftime("%Z"), "LABEL", "PCOMM", "PID", "PPID",
                                "TID", "AGE(s)", "EXIT_CODE"]
    rows = [ln.split() for ln in lines[1:] if ln.split()[3:4] and ln.split()[3] in procs]
    assert rows and all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", r[0]) for r in rows)
    assert all(r[1] == "exit" and r[2] == "sh" and r[-2:] == ["code", "5"] for r in rows)
