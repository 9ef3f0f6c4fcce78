"""The conventions every ``pybpf`` command and tool shares (tools/_common.py): one-line
argument errors, quiet broken pipes, clean exits on SIGINT/SIGTERM from the start, one-line
PybpfErrors, and an early, clear refusal when unprivileged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pybpf import errors
from pybpf.tools import _common
from tests.toolrun import catches_sigterm, orphan_progs, prog_ids

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
ENV = dict(os.environ, PYTHONPATH=SRC)
PYBPF = [sys.executable, "-m", "pybpf"]


def _run(args, **kw):
    return subprocess.run(PYBPF + args, capture_output=True, text=True, env=ENV, timeout=60,
                          **kw)


# ---- argument types (pure) ----------------------------------------------------------

def test_uid_arg_range_and_names():
    assert _common.uid_arg("0") == 0
    assert _common.uid_arg("4294967294") == 4294967294
    assert _common.uid_arg("root") == 0
    import argparse
    for bad in ("4294967295", "4294967296", "99999999999999999999", "-1", "nosuchuser",
                os.fsdecode(b"\xff")):
        with pytest.raises(argparse.ArgumentTypeError):
            _common.uid_arg(bad)


def test_pid_and_int_range():
    import argparse
    assert _common.pid_arg("1") == 1
    assert _common.pid_arg("4194304") == 4194304
    for bad in ("0", "4194305", "99999999999999999999", "1.5", "", " ", "١٢"):
        with pytest.raises(argparse.ArgumentTypeError):
            _common.pid_arg(bad)
    r = _common.int_range(-3, 3, "a level")
    assert r("-3") == -3 and r("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="a level"):
        r("4")


def test_regex_arg_matches_bytes_even_when_not_utf8():
    import argparse
    assert _common.regex_arg("^ba").search(b"bash")
    assert _common.regex_arg(os.fsdecode(b"\xff")).search(b"a\xffb")
    for bad in ("(", "[a-", "*"):
        with pytest.raises(argparse.ArgumentTypeError, match="bad regular expression"):
            _common.regex_arg(bad)


def test_text_arg_refuses_non_utf8():
    import argparse
    assert _common.text_arg("héllo") == "héllo"
    with pytest.raises(argparse.ArgumentTypeError, match="not valid UTF-8"):
        _common.text_arg(os.fsdecode(b"a\xffb"))


def test_parser_error_is_one_line(capsys):
    p = _common.ArgumentParser(prog="pybpf x")
    p.add_argument("-p", type=_common.pid_arg)
    with pytest.raises(SystemExit) as e:
        p.parse_args(["-p", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pybpf x: error: argument -p:"), err


# ---- run_main (pure) ----------------------------------------------------------------

def test_run_main_error_is_one_line_exit_1(capsys):
    def main(argv):
        raise errors.NotFoundError(2, "tracepoint", "a:b does not exist")
    assert _common.run_main("pybpf t", main, []) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pybpf t: error: tracepoint:"), err


def test_run_main_signal_exit_codes_and_handlers_restored():
    before = signal.getsignal(signal.SIGTERM)

    def main(argv):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)          # the handler raises Stop before this ends
        return 0
    t0 = time.monotonic()
    assert _common.run_main("pybpf t", main, []) == 143
    assert time.monotonic() - t0 < 4
    assert signal.getsignal(signal.SIGTERM) is before

    def main_int(argv):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    assert _common.run_main("pybpf t", main_int, []) == 130

    def main_catches(argv):    # a tool that ends its loop on Stop exits 0
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except _common.Stop:
            return 0
    assert _common.run_main("pybpf t", main_catches, []) == 0


def test_broken_pipe_is_quiet_141():
    """A closed stdout ends the command with 141 and nothing on stderr (no 'Exception
    ignored' from the interpreter's final flush either)."""
    code = ("import sys; from pybpf.tools import _common\n"
            "def main(argv):\n"
            "    while True:\n"
            "        sys.stdout.write('x' * 1000 + '\\n')\n"
            "sys.exit(_common.run_main('pybpf t', main, []))\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    p.stdout.read(10)
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=30) == 141
    assert err == b""


def test_silence_stdout_points_stdout_at_devnull_and_leaks_no_fd():
    """The one helper every command calls after a broken pipe: stdout becomes /dev/null
    (the exit flush stays quiet) and the descriptor it opened is closed again."""
    code = ("import os, sys; from pybpf.tools import _common\n"
            "before = sorted(os.listdir('/proc/self/fd'))\n"
            "_common.silence_stdout(); _common.silence_stdout()\n"
            "after = sorted(os.listdir('/proc/self/fd'))\n"
            "null = os.stat(os.devnull).st_rdev\n"
            "print(before == after, os.fstat(1).st_rdev == null, file=sys.stderr)\n"
            "print('gone')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=ENV, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "True True\n")


def test_a_signal_during_a_blocked_write_ends_cleanly_with_whole_rows():
    """A tool stuck writing to a full pipe when SIGINT comes: the signal waits for the
    write to finish (it is held while Output writes), so the reader gets whole rows in
    order, then the tool's own ending, and exit 0."""
    code = ("import sys, time; from pybpf.tools import _common\n"
            "out = _common.Output(sys.stdout)\n"
            "def main(argv):\n"
            "    try:\n"
            "        for i in range(40):\n"
            "            out.row(f'{i} ' + 'x' * 7000, {})\n"
            "        out.flush()\n"
            "        time.sleep(30)\n"
            "    except _common.Stop:\n"
            "        out.row('end', {})\n"
            "        out.flush()\n"
            "    return 0\n"
            "sys.exit(_common.run_main('pybpf t', main, []))\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:          # wait until it blocks on the full pipe
        with open(f"/proc/{p.pid}/wchan") as f:
            if "pipe" in f.read():
                break
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    lines = out.decode().splitlines()
    assert lines[-1] == "end" and len(lines) > 5, err
    assert [ln.split()[0] for ln in lines[:-1]] == [str(i) for i in range(len(lines) - 1)]
    assert all(len(ln) == 7002 for ln in lines[:-1])
    assert p.returncode == 0 and err == b""


def test_python_dash_m_pybpf_is_the_command():
    r = _run(["list"])
    assert r.returncode == 0 and "execsnoop" in r.stdout
    r = _run(["nosuchcommand"])
    assert r.returncode == 2 and "unknown command" in r.stderr
    import pybpf
    for flag in ("--version", "-V", "version"):
        r = _run([flag])
        assert (r.returncode, r.stdout, r.stderr) == (0, f"pybpf {pybpf.__version__}\n", "")


# ---- the real tool ------------------------------------------------------------------

BAD_ARGS = [
    ["-u", "99999999999999999999"], ["-u", "4294967296"], ["-u", "4294967295"],
    ["-u", "nosuchuser"], ["-P", "99999999999999999999"], ["-P", "-5"], ["-P", "x"],
    ["-n", "("], ["-l", "[a-"], ["--max-args", "0"], ["--max-args", "61"],
    ["-u", os.fsdecode(b"\xff")], ["--nosuchoption"],
]


@pytest.mark.kernel
@pytest.mark.parametrize("args", BAD_ARGS, ids=lambda a: " ".join(map(repr, a)))
def test_execsnoop_bad_arguments_one_line_exit_2(args):
    before = prog_ids()
    r = _run(["execsnoop"] + args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("pybpf execsnoop: error: "), r.stderr
    assert not orphan_progs(before)


@pytest.mark.kernel
@pytest.mark.parametrize("flag", ["--mntnsmap", "--cgroupmap"])
def test_pinned_map_options_say_what_is_wrong(flag, bpffs):
    from pybpf.maps import Map
    from pybpf._sys.uapi import MapType
    before = prog_ids()
    cases = {"/etc/passwd": "not a pinned BPF map (not on a bpf filesystem)",
             os.path.join(bpffs, "absent"): "no pinned map there"}
    arr = Map.create(MapType.ARRAY, 4, 8, 1, name="h12_wrong")
    h4 = Map.create(MapType.HASH, 4, 8, 1, name="h12_wrong_key")
    from pybpf import bpffs as fs
    wrong_type, wrong_key = os.path.join(bpffs, "h12arr"), os.path.join(bpffs, "h12h4")
    fs.pin(arr.fileno(), wrong_type)
    fs.pin(h4.fileno(), wrong_key)
    try:
        cases[wrong_type] = "expected a hash or lru_hash map with 8-byte keys, got a array"
        cases[wrong_key] = "got a hash map with 4-byte keys"
        for path, text in cases.items():
            r = _run(["execsnoop", flag, path])
            assert r.returncode == 1, r.stderr
            assert r.stderr.count("\n") == 1, r.stderr
            assert text in r.stderr and "CAP_" not in r.stderr, r.stderr
    finally:
        fs.unpin(wrong_type)
        fs.unpin(wrong_key)
        arr.close()
        h4.close()
    assert not orphan_progs(before)


@pytest.mark.kernel
def test_execsnoop_piped_into_head_ends_quietly():
    before = prog_ids()
    p = subprocess.Popen(PYBPF + ["execsnoop"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    header = p.stdout.readline()
    assert b"PCOMM" in header
    p.stdout.close()                    # what head does after its lines
    deadline = time.monotonic() + 30
    while p.poll() is None and time.monotonic() < deadline:
        subprocess.run(["/bin/true", "pipe-test"])
        time.sleep(0.05)
    err = p.stderr.read()
    assert p.wait(timeout=10) == 141, err
    assert err == b""
    assert not orphan_progs(before)


@pytest.mark.kernel
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_at_any_moment_of_start_up_ends_cleanly(sig, code):
    """From the moment pybpf runs, a signal at any point of start-up (import, compile or
    cache, load, attach) ends with 128+signal, no traceback, nothing left loaded; once
    tracing it ends with 0."""
    before = prog_ids()
    seen = set()
    for delay in (0.0, 0.003, 0.01, 0.03, 0.08, 0.15, 0.3, 0.6, 1.2):
        p = subprocess.Popen(PYBPF + ["execsnoop"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=ENV)
        deadline = time.monotonic() + 10
        while not catches_sigterm(p.pid) and time.monotonic() < deadline:
            assert p.poll() is None
            time.sleep(0.0005)
        time.sleep(delay)
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
        assert b"Traceback" not in err and err == b"", err
        assert p.returncode in (code, 0), (delay, p.returncode, err)
        if p.returncode == 0:
            assert b"PCOMM" in out       # only once tracing had begun
        seen.add(p.returncode)
    assert code in seen
    assert not orphan_progs(before)


# ---- unprivileged ---------------------------------------------------------------------

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _unpriv_python() -> str:
    """An interpreter user nobody may run (the venv may live under /root)."""
    r = subprocess.run(NOBODY + [sys.executable, "-c", "pass"], capture_output=True)
    return sys.executable if r.returncode == 0 else "/usr/bin/python3"


@pytest.fixture
def nobody_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    os.chmod(tmp_path, 0o755)
    return str(home)


def _as_nobody(args, home):
    env = dict(ENV, HOME=home, XDG_CACHE_HOME=os.path.join(home, ".cache"), TMPDIR=home)
    return subprocess.run(NOBODY + [_unpriv_python()] + args, capture_output=True,
                          text=True, env=env, timeout=60)


def test_unprivileged_execsnoop_refuses_at_once(nobody_home):
    r = _as_nobody(["-m", "pybpf", "execsnoop"], nobody_home)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and "CAP_BPF" in r.stderr, r.stderr
    assert os.listdir(nobody_home) == []      # nothing compiled or cached first


def test_unprivileged_features_says_so_and_fails(nobody_home):
    r = _as_nobody(["-m", "pybpf", "features"], nobody_home)
    assert r.returncode == 1, r.stdout
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "CAP_BPF" in r.stderr, r.stderr


def test_unprivileged_bcc_front_says_eperm_not_tracefs(nobody_home):
    r = _as_nobody(["-c", "import pybpf\n"
                    "try:\n"
                    "    pybpf.BPF(text='TRACEPOINT_PROBE(sched, sched_switch) {return 0;}')\n"
                    "except pybpf.MissingPrivilegeError as e:\n"
                    "    print('EPERM', e)\n"], nobody_home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("EPERM") and "tracefs" not in r.stdout, r.stdout
    assert os.listdir(nobody_home) == []
