"""examples/_options.py parses what argparse parses, the same way, without importing it."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
from _options import Options  # noqa: E402

# the examples' option kinds: int/float/str values, a switch, a required one, a metavar
TABLE = [
    (("-d", "--duration"), dict(type=int, default=0, metavar="MS", help="at least MS")),
    (("-i", "--interval"), dict(type=float, default=1.0, help="seconds")),
    (("-b", "--binary"), dict(default="/usr/bin/python3.11", help="(default %(default)s)")),
    (("-p", "--pid"), dict(type=int, help="only this process")),
    (("-v", "--verbose"), dict(action="store_true", help="debug log")),
]


def both(argv, table=TABLE):
    """(Options' result, argparse's result); a SystemExit is returned as ("exit", code)."""
    out = []
    for make in (Options, lambda d: argparse.ArgumentParser(description=d)):
        ap = make("test")
        for flags, kw in table:
            ap.add_argument(*flags, **kw)
        try:
            out.append(vars(ap.parse_args(list(argv))))
        except SystemExit as e:
            out.append(("exit", e.code))
    return out


@pytest.mark.parametrize("argv", [
    [], ["-d", "5"], ["-d5"], ["--duration", "5"], ["--duration=5"], ["-v"],
    ["-v", "-i", "0.25", "-p", "42"], ["-b", "/bin/x", "--verbose"], ["-p", "1", "-p", "2"],
    ["--interval=", "1"], ["-b="], ["-b", ""],
])
def test_same_values_as_argparse(argv):
    mine, theirs = both(argv)
    assert mine == theirs


@pytest.mark.parametrize("argv", [
    ["-d", "x"], ["-d"], ["--nope"], ["pos"], ["-vd5"], ["--dur", "5"], ["-p", "-1"],
    ["--verbose=1"], ["--", "-v"], ["-"],
])
def test_everything_else_is_argparse(argv, capsys):
    mine, theirs = both(argv)
    assert mine == theirs
    if isinstance(theirs, tuple):
        err = capsys.readouterr().err
        assert err.count("usage:") == 2        # argparse's own message, for both


def test_required_option():
    table = [(("-p", "--pid"), dict(type=int, required=True, help="x"))]
    assert both(["-p", "7"], table) == [{"pid": 7}, {"pid": 7}]
    assert both([], table) == [("exit", 2), ("exit", 2)]


def test_help_is_argparse(capsys):
    mine, theirs = both(["-h"])
    assert mine == theirs == ("exit", 0)
    out = capsys.readouterr().out
    assert out.count("-d MS, --duration MS") == 2 and "(default /usr/bin/python3.11)" in out


def test_plain_line_imports_no_argparse():
    code = ("import sys; sys.path.insert(0, 'examples'); from _options import Options; "
            "o = Options('t'); o.add_argument('-i', '--interval', type=float, default=1.0); "
            "o.add_argument('-v', '--verbose', action='store_true'); "
            "print(vars(o.parse_args(['-v', '-i', '2'])), 'argparse' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, check=True)
    assert r.stdout.strip() == "{'interval': 2.0, 'verbose': True} False"


TOKENS = ["-d", "-d5", "--duration", "--duration=7", "-i", "-i0.5", "--interval", "-b",
          "--binary=/x", "-p", "--pid", "-v", "--verbose", "-vd", "3", "x", "-1", "1.5",
          "--", "-", "--du", "-h", ""]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=6))
def test_any_line_like_argparse(argv):
    import contextlib
    import io
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        mine, theirs = both(argv)
    assert mine == theirs
