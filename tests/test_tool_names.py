"""Names that are not UTF-8 (a comm set with prctl(PR_SET_NAME), a file or mount path,
a line read by bash, a stack's comm, /proc/PID/comm) print as their bytes in every
tool's text rows, as bcc prints them, and as U+FFFD in --json, which stays valid."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess

import pytest

from tests.toolrun import SLOW, ToolRun
from tests.workload import Child, PtyBash

pytestmark = pytest.mark.kernel

COMM = b"nm\xff\xfe-x"                      # what the children name themselves
SHOWN = COMM.decode(errors="replace")       # the same name in JSON
_NAME_SELF = f"import ctypes\nctypes.CDLL(None).prctl(15, {COMM!r}, 0, 0, 0)\n"


def _valid_json(raw: list[bytes]) -> list[dict]:
    """The JSON lines of a run, each checked to be UTF-8 (json.loads takes bytes)."""
    out = []
    for line in raw:
        line.decode("utf-8")                # raises on bytes that are not UTF-8
        if line.startswith(b"{"):
            out.append(json.loads(line))
    return out


def test_event_comm_exitsnoop():
    """A comm read from an event (bpf_get_current_comm): exitsnoop's text row and JSON."""
    text = ToolRun("exitsnoop", ready="PCOMM")
    js = ToolRun("exitsnoop", "--json")
    # --json prints no banner: tracing once a marker process's exit shows
    js.wait_for('"comm":"true"', trigger=lambda: subprocess.run(["true"]))
    c = Child(_NAME_SELF + "raise SystemExit(3)")
    pid = c.pid
    c.p.communicate("go\n", timeout=30)
    assert c.p.returncode == 3
    js.wait_for(f'"pid":{pid}')
    text.wait_for(str(pid))
    text.stop(), js.stop()
    rows = [r.split() for r in text.raw if r.split()[1:2] == [str(pid).encode()]]
    assert [(r[0], r[-1]) for r in rows] == [(COMM, b"3")], text.raw
    recs = [r for r in _valid_json(js.raw) if r.get("pid") == pid]
    assert [(r["comm"], r["exit_code"]) for r in recs] == [(SHOWN, 3)], recs


def test_map_key_comm_and_path_filetop(tmp_path):
    """A comm and a file name kept in a map key: filetop's rows."""
    name = os.fsencode(str(tmp_path)) + b"/ft_\xff\xfe"
    code = (_NAME_SELF + f"import os\nfd = os.open({name!r}, os.O_RDWR | os.O_CREAT)\n"
            "for _ in range(9): os.write(fd, b'x' * 1024)\n")
    c = Child(code)
    text = ToolRun("filetop", "-C", "-p", str(c.pid), "100", ready="Tracing...")
    js = ToolRun("filetop", "-C", "--json", "-p", str(c.pid), "100", ready="Tracing...")
    c.go()
    text.stop(), js.stop()
    rows = [r.split() for r in text.raw if r.endswith(b"ft_\xff\xfe")]
    # TID COMM READS WRITES R_Kb W_Kb T FILE
    assert [(r[1], r[3], r[5]) for r in rows] == [(COMM, b"9", b"9")], text.raw
    (rec,) = _valid_json(js.raw)
    (row,) = [r for r in rec["rows"] if r["file"].startswith("ft_")]
    assert (row["comm"], row["file"], row["writes"]) == (SHOWN, "ft_\ufffd\ufffd", 9)


def test_mount_source_and_target_mountsnoop(tmp_path):
    """Mount sources and targets: mountsnoop's call column."""
    target = os.fsencode(str(tmp_path)) + b"/mnt\xfe"
    os.mkdir(target)
    libc = ctypes.CDLL(None, use_errno=True)
    text = ToolRun("mountsnoop", "-p", str(os.getpid()), ready="CALL")
    js = ToolRun("mountsnoop", "-p", str(os.getpid()), "--json")

    def mount_umount():
        assert libc.mount(b"src\xff", target, b"tmpfs", 0, b"size=1m") == 0
        assert libc.umount2(target, 0) == 0
    # the JSON run shows no banner: mount and unmount until it has seen one (a slow
    # machine, the emulated guest, takes seconds to attach it)
    js.wait_for("umount", trigger=mount_umount)
    text.stop(), js.stop()
    calls = [r.split(None, 4)[4] for r in text.raw[1:]]
    pair = [b'mount("src\xff", "' + target + b'", "tmpfs", 0x0, "size=1m") = 0',
            b'umount("' + target + b'", 0x0) = 0']
    assert calls and calls == pair * (len(calls) // 2), text.raw
    recs = [(r["call"], r.get("source"), r["target"]) for r in _valid_json(js.raw)]
    shown = target.decode(errors="replace")
    if recs[0][0] == "umount":                  # attached between a mount and its umount
        recs = recs[1:]
    assert recs and recs == [("mount", "src\ufffd", shown), ("umount", None, shown)] * (
        len(recs) // 2), recs


def test_readline_bashreadline():
    """A line bash read: bashreadline's command column (readline takes 8-bit input as
    it is with input-meta on and convert-meta off)."""
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".inputrc") as rc:
        rc.write("set input-meta on\nset convert-meta off\nset output-meta on\n")
        rc.flush()
        text = ToolRun("bashreadline", ready="COMMAND")
        js = ToolRun("bashreadline", "--json")
        line = b"#rl-\xff\xfe-%d" % os.getpid()
        with PtyBash(INPUTRC=rc.name, LANG="C") as bash:
            js.wait_for(f"rl-\\ufffd\\ufffd-{os.getpid()}", trigger=lambda: bash.type(line),
                        timeout=30)
        text.stop(), js.stop()
    rows = [r for r in text.raw if r.endswith(line)]
    assert rows and all(r.split()[1] == str(bash.pid).encode() for r in rows), text.raw
    recs = [r for r in _valid_json(js.raw) if r["pid"] == bash.pid]
    assert recs and recs[0]["command"] == line.decode(errors="replace")


def test_stack_comm_offcputime_folded():
    """The comm that starts a folded stack (offcputime -f), and its JSON."""
    c = Child(_NAME_SELF + "import time\nfor _ in range(20): time.sleep(0.01)\n")
    # their banners go to stderr (stdout is the folded lines, the JSON)
    text = ToolRun("offcputime", "-f", "-p", str(c.pid), "-U", ready="Tracing off-CPU")
    js = ToolRun("offcputime", "--json", "-p", str(c.pid), "-U", ready="Tracing off-CPU")
    c.go()
    text.stop(), js.stop()
    folded = [r for r in text.raw if r.startswith(COMM + b";")]
    assert folded, text.raw
    # 20 sleeps of 10 ms at least, off the CPU (a stretch whose switch-in no program saw
    # is timed from the task's run time and counted: tests/test_tool_unseen.py; session
    # 13's one missing stretch was one such)
    assert b"lost" not in text.err + js.err and b"missed" not in text.err + js.err
    assert sum(int(r.rsplit(b" ", 1)[1]) for r in folded) >= 20 * 10000
    recs = [r for r in _valid_json(js.raw) if r.get("pid") == c.pid]
    # (its wait for "go" was off the CPU under its old name, python)
    assert sum(r["total_us"] for r in recs if r["comm"] == SHOWN) >= 20 * 10000, recs


def test_proc_comm_cpudist_per_thread():
    """A histogram's section names a thread by /proc/PID/comm (cpudist -L)."""
    c = Child(_NAME_SELF + "import time\nfor _ in range(30): sum(range(20000)); time.sleep(0.002)\n"
              "print('done', flush=True)\ntime.sleep(3)\n")
    t = ToolRun("cpudist", "-L", "-p", str(c.pid), ready="Tracing")
    c.p.stdin.write("go\n")
    c.p.stdin.flush()
    assert c.p.stdout.readline() == "done\n"
    t.stop()        # the child still lives: its name is read from /proc
    c.p.kill()
    c.p.wait()
    labels = [r for r in t.raw if r.startswith(b"tid = ")]
    assert labels == [b"tid = %d " % c.pid + COMM], t.raw


def test_symbol_name_profile_folded():
    """A user frame's symbol name (an ELF symbol may be any bytes): profile -f and --json."""
    from tests.cbuild import build
    # spinning until killed below: in a guest beside a loaded host the two tools' starts
    # took longer than its first 30 s (6.1: the test ran 102 s and sampled nothing)
    spin = subprocess.Popen([build("tool_spin_bytes"), "3600"])
    try:
        text = ToolRun("profile", "-F", "499", "-f", "-U", "-p", str(spin.pid), "1",
                       ready="Sampling at")
        js = ToolRun("profile", "-F", "499", "--json", "-U", "-p", str(spin.pid), "1")
        text.p.wait(timeout=30 * SLOW), js.p.wait(timeout=30 * SLOW)
        text.stop(settle=0), js.stop(settle=0)
    finally:
        spin.kill()
        spin.wait()
    hot = [r for r in text.raw if b";spin_\xff\xfe" in r]
    # a spinner that a loaded machine may share: sampled, however few times
    assert hot and sum(int(r.rsplit(b" ", 1)[1]) for r in hot) >= 1, text.raw
    recs = _valid_json(js.raw)
    assert any("spin_\ufffd\ufffd" in r["user_stack"] for r in recs), (recs, js.err)
