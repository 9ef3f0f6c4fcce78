"""Every pybpf command whose stdout's reader is gone ends the same way: quietly (nothing on
stderr, no 'Exception ignored' from the interpreter's exit flush), status 141, as a C tool
killed by SIGPIPE.  The pipe is closed before the command starts, so its first write (or
its exit flush, for output that fits the buffer) meets a closed pipe every time."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
CFG = os.path.join(SRC, "pybpf", "exporter", "examples", "syscalls.yaml")


def into_closed_pipe(argv, tmp_path, buffered=True):
    """(status, stderr) of ``python -m pybpf *argv`` with stdout a pipe nobody reads."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update(PYTHONPATH=SRC, XDG_CACHE_HOME=str(tmp_path / "cache"))
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"            # each write meets the pipe at once
    rfd, wfd = os.pipe()
    os.close(rfd)
    try:
        r = subprocess.run([sys.executable, "-m", "pybpf", *argv], stdout=wfd,
                           stderr=subprocess.PIPE, text=True, timeout=120, env=env,
                           cwd=str(tmp_path))
    finally:
        os.close(wfd)
    return r.returncode, r.stderr


@pytest.fixture
def files(tmp_path):
    (tmp_path / "few.rules").write_text("deny from 10.0.0.1\n")
    (tmp_path / "many.rules").write_text(
        "".join(f"deny from 10.0.{i >> 8}.{i & 255}\n" for i in range(3000)))
    (tmp_path / "few.py").write_text("print('one line')\n")
    (tmp_path / "many.py").write_text("for i in range(100000):\n    print('line', i)\n")
    (tmp_path / "fails.py").write_text("import sys\nprint('partial')\nsys.exit(3)\n")
    return tmp_path


COMMANDS = [
    [], ["list"], ["cache", "info"], ["cache", "-h"], ["opensnoop", "-h"], ["execsnoop", "-h"],
    ["firewall", "-h"], ["firewall", "check", "few.rules"], ["firewall", "check", "many.rules"],
    ["exporter", "-h"], ["audit", "-h"], ["sslsniff", "-h"], ["run", "-h"],
    ["run", "few.py"], ["run", "many.py"], ["run", "fails.py"],
]


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a) or "usage")
def test_a_command_into_a_closed_pipe_ends_quietly_with_141(argv, buffered, files):
    assert into_closed_pipe(argv, files, buffered) == (141, "")


@pytest.mark.kernel
def test_the_exporters_scrape_into_a_closed_pipe(tmp_path):
    """``pybpf exporter --once`` loads its programs, then meets the closed pipe: the same
    end as every command (it used to exit 0 on its own)."""
    assert into_closed_pipe(["exporter", "-c", CFG, "--once"], tmp_path) == (141, "")


def test_run_main_flushes_before_a_system_exit(capsys):
    """argparse's -h ends with SystemExit(0) after its help: run_main flushes first, so a
    closed pipe is found while the handlers still stand; an open stdout keeps the exit."""
    from pybpf.tools import _common

    def main(argv):
        print("help text")
        raise SystemExit(0)
    with pytest.raises(SystemExit) as e:
        _common.run_main("pybpf t", main, [])
    assert e.value.code == 0 and capsys.readouterr().out == "help text\n"


def test_bench_scripts_end_quietly_on_a_closed_pipe(tmp_path):
    """bench/benchmain.run: a bench script piped into ``head`` ends with status 0 and
    nothing on stderr, after its own clean-up ran (pure: no kernel)."""
    bench = os.path.join(os.path.dirname(SRC), "bench")
    script = tmp_path / "b.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {bench!r})\n"
        "import benchmain\n"
        "def main():\n"
        "    try:\n"
        "        for i in range(100000):\n"
        "            print('row', i)\n"
        "    finally:\n"
        "        open(sys.argv[1], 'w').close()\n"
        "benchmain.run(main)\n")
    marker = tmp_path / "cleaned"
    rfd, wfd = os.pipe()
    os.close(rfd)
    try:
        r = subprocess.run([sys.executable, str(script), str(marker)], stdout=wfd,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(wfd)
    assert (r.returncode, r.stderr) == (0, "")
    assert marker.exists()
