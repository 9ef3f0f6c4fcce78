"""pybpf.options.ArgumentParser gives what argparse gives, for every definition and command
line, and answers empty and plain lines without importing argparse."""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import event, given, settings, strategies as st

import pybpf
from pybpf import options

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(pybpf.__file__)))

# the examples' option kinds: int/float/str values, a switch, a metavar, a %(default)s help
TABLE = [
    (("-d", "--duration"), dict(type=int, default=0, metavar="MS", help="at least MS")),
    (("-i", "--interval"), dict(type=float, default=1.0, help="seconds")),
    (("-b", "--binary"), dict(default="/usr/bin/python3.11", help="(default %(default)s)")),
    (("-p", "--pid"), dict(type=int, help="only this process")),
    (("-v", "--verbose"), dict(action="store_true", help="debug log")),
]


def _run(make, table, argv, kwargs):
    """(outcome, parser): the Namespace's items in order, ("exit", code) or ("raise", ...)."""
    p = None
    try:
        p = make(**kwargs)
        for flags, kw in copy.deepcopy(table):
            if flags == "defaults":
                p.set_defaults(**kw)
            else:
                p.add_argument(*flags, **kw)
        return ("ok", list(vars(p.parse_args(list(argv))).items())), p
    except SystemExit as e:
        return ("exit", e.code), p
    except Exception as e:                     # a definition argparse refuses
        return ("raise", type(e).__name__, str(e)), p


def both(argv, table=TABLE, **kwargs):
    """[lazy outcome, argparse outcome]; each outcome also holds stdout and stderr."""
    kwargs.setdefault("prog", "t")
    out = []
    for make in (options.ArgumentParser, argparse.ArgumentParser):
        o, e = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
            res, _ = _run(make, table, argv, kwargs)
        out.append((res, o.getvalue(), e.getvalue()))
    return out


def fast(argv, table=TABLE, **kwargs):
    """The lazy parser's values for argv, asserting it did not need argparse."""
    res, p = _run(options.ArgumentParser, table, argv, {"prog": "t", **kwargs})
    assert p._real is None, f"{argv}: argparse was built"
    return res


PLAIN = [
    [], ["-d", "5"], ["-d5"], ["-d=5"], ["--duration", "5"], ["--duration=5"], ["-v"],
    ["-v", "-i", "0.25", "-p", "42"], ["-b", "/bin/x", "--verbose"], ["-p", "1", "-p", "2"],
    ["-b="], ["-b", ""], ["--binary="], ["-b=x=y"], ["-bx=y"], ["-d", " 7 "], ["-p-3"],
    ["-i", "1e3"], ["-v", "-v"],
]


@pytest.mark.parametrize("argv", PLAIN)
def test_plain_lines_are_answered_here_as_argparse_answers(argv):
    mine, theirs = both(argv)
    assert mine == theirs and mine[0][0] == "ok"
    assert fast(argv) == mine[0]


@pytest.mark.parametrize("argv", [
    ["-d", "x"], ["-d"], ["--nope"], ["pos"], ["-vd5"], ["--dur", "5"], ["-p", "-1"],
    ["--verbose=1"], ["-v="], ["--", "-v"], ["-"], ["-h"], ["--help"], ["--he"],
    ["-d", "--", "5"], ["--interval=", "1"], ["-i", "nan?"], ["-d 5"], ["-d", "-v"],
])
def test_everything_else_is_argparse(argv):
    mine, theirs = both(argv)
    assert mine == theirs
    if mine[0][0] == "exit" and mine[0][1]:
        assert mine[2].startswith("usage: t ")          # argparse's own message


def test_help_is_argparse():
    mine, theirs = both(["-h"])
    assert mine == theirs and mine[0] == ("exit", 0)
    assert "-d MS, --duration MS" in mine[1] and "(default /usr/bin/python3.11)" in mine[1]


def test_required_options_and_groups():
    table = [(("-p", "--pid"), dict(type=int, required=True))]
    assert fast(["-p", "7"], table) == ("ok", [("pid", 7)])
    assert both([], table)[0][0] == both([], table)[1][0] == ("exit", 2)
    p = options.ArgumentParser(prog="t")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ipv4", action="store_true")
    g.add_argument("--ipv6", action="store_true")
    assert vars(p.parse_args(["--ipv4", "--ipv4"])) == {"ipv4": True, "ipv6": False}
    assert p._real is None
    with contextlib.redirect_stderr(io.StringIO()) as err, pytest.raises(SystemExit):
        p.parse_args(["--ipv4", "--ipv6"])
    assert "not allowed with argument" in err.getvalue()


def test_other_actions_and_set_defaults_in_order():
    table = [
        ("defaults", dict(level=1, extra="e")),
        (("-l", "--level"), dict(type=int)),                   # default from set_defaults
        (("-q",), dict(dest="level", action="store_const", const=0)),
        (("-x",), dict(default=5, dest="extra")),               # its own default wins
        (("-v",), dict(action="count")),
        (("-a", "--add"), dict(action="append", default=["d"])),
        (("-c",), dict(action="append_const", const="c", dest="add")),
        (("--no-color",), dict(dest="color", action="store_false")),
        ("defaults", dict(color="auto")),                       # later: overrides the action
    ]
    for argv in ([], ["-q"], ["-vvv"], ["-v", "-v", "-a", "1", "-c", "--add=2"],
                 ["--no-color", "-l", "3", "-x", "y"]):
        mine, theirs = both(argv, table)
        assert mine == theirs, argv
    assert fast(["-v", "-v", "-a", "1", "-c"], table)[1][-3:] == [
        ("v", 2), ("add", ["d", "1", "c"]), ("color", "auto")]
    assert table[5][1]["default"] == ["d"]                     # the default is not changed


def test_positionals_in_one_run():
    table = [(("-p",), dict(type=int)), (("-m",), dict(action="store_true")),
             (("interval",), dict(nargs="?", type=float, default=1.0)),
             (("count",), dict(nargs="?", type=int, default=99))]
    assert fast(["-p", "3"], table) == ("ok", [("p", 3), ("m", False), ("interval", 1.0),
                                              ("count", 99)])
    assert fast(["-m", "1", "5"], table)[1][2:] == [("interval", 1.0), ("count", 5)]
    assert fast(["2", "-m"], table)[1][2:] == [("interval", 2.0), ("count", 99)]
    for argv in ([], ["2"], ["-p", "3", "2"], ["2", "7", "-m"], ["-m", "2", "-p", "1"],
                 ["2", "-m", "7"], ["1", "2", "3"], ["x"], ["-m", "1", "x"]):
        mine, theirs = both(argv, table)
        assert mine == theirs, argv
    table = [(("-v",), dict(action="store_true")), (("first",), dict()),
             (("rest",), dict(nargs="*")), (("last",), dict(nargs="+", type=int))]
    assert fast(["a", "b", "c", "1", "2"], table)[1] == [
        ("v", False), ("first", "a"), ("rest", ["b", "c", "1"]), ("last", [2])]
    for argv in ([], ["a"], ["a", "1"], ["-v", "a", "1"], ["a", "b", "1", "-v"],
                 ["a", "-v", "1"], ["a", "x"]):
        mine, theirs = both(argv, table)
        assert mine == theirs, argv


def test_remainder_option_leaves_plain_lines_here():
    """nargs "..." (argparse.REMAINDER: bcc's --exec CMD ARGS...): a line without it is
    answered here, one with it by argparse, identically."""
    table = [(("-T",), dict(action="store_true")), (("-p",), dict(type=int)),
             (("--exec",), dict(nargs="..."))]
    assert fast(["-T", "-p", "3"], table) == ("ok", [("T", True), ("p", 3), ("exec", None)])
    for argv in ([], ["-T"], ["--exec", "ls", "-l", "/tmp"], ["-T", "--exec"],
                 ["--exec", "-p", "1"]):
        mine, theirs = both(argv, table)
        assert mine == theirs, argv


@pytest.mark.parametrize("table, why", [
    ([(("-p",), dict(type=int)), (("-p",), dict())], "a conflicting option string"),
    ([(("-h",), dict())], "a conflict with -h"),
    ([(("-v",), dict(action="store_true", type=int))], "a keyword the action refuses"),
    ([(("-n",), dict(nargs=0))], "nargs=0"),
    ([(("-n",), dict(const=1))], "const without nargs='?'"),
    ([(("-n",), dict(type="int"))], "a type that is not callable"),
    ([(("pos",), dict(required=False, nargs="?"))], "required= on a positional"),
])
def test_definitions_argparse_refuses_are_refused_alike(table, why):
    mine, theirs = both(["-v"], table)
    assert mine == theirs and mine[0][0] == "raise", why


@pytest.mark.parametrize("kwargs", [dict(prefix_chars="+-"), dict(allow_abbrev=False),
                                    dict(argument_default=3), dict(add_help=False)])
def test_parser_options_are_argparse(kwargs):
    table = [(("-d", "--duration"), dict(type=int)), (("+x",), dict(action="store_true"))] \
        if "prefix_chars" in kwargs else TABLE
    for argv in ([], ["-d", "5"], ["--dur", "5"], ["-h"], ["+x"]):
        mine, theirs = both(argv, table, **kwargs)
        assert mine == theirs, (kwargs, argv)


def test_anything_else_is_the_real_parser():
    p = options.ArgumentParser(prog="t", description="d")
    p.add_argument("-p", type=int)
    assert "usage: t [-h] [-p P]" in p.format_help()
    args, rest = p.parse_known_args(["-p", "1", "x"])
    assert args.p == 1 and rest == ["x"]
    p.add_argument("-q", action="store_true")                 # now straight to argparse
    assert p.parse_args(["-q"]).q is True
    ns = options.Namespace(a=1)
    assert ns == argparse.Namespace(a=1) and "a" in ns and repr(ns) == "Namespace(a=1)"


def test_plain_lines_import_no_argparse():
    code = ("import sys; from pybpf.options import ArgumentParser; "
            "o = ArgumentParser(description='t'); "
            "o.add_argument('-i', '--interval', type=float, default=1.0); "
            "o.add_argument('-v', '--verbose', action='store_true'); "
            "print(vars(o.parse_args(['-v', '-i', '2'])), vars(o.parse_args(['--interval=3'])),"
            " 'argparse' in sys.modules, 're' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, check=True, env={**os.environ, "PYTHONPATH": SRC_DIR})
    assert r.stdout.strip() == ("{'interval': 2.0, 'verbose': True} "
                                "{'interval': 3.0, 'verbose': False} False False")


@pytest.mark.parametrize("tool, argv", [("opensnoop", ["-p", "42", "-T"]),
                                        ("execsnoop", ["-x", "--max-args=5"]),
                                        ("runqlat", ["-m", "-p", "1", "1", "5"])])
def test_a_tools_plain_line_imports_no_argparse(tool, argv):
    code = (f"import sys; from pybpf.tools import {tool} as t; a = t.parser().parse_args("
            f"{argv!r}); print(sorted(m for m in ('argparse', 're') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC_DIR})
    assert r.stdout.strip() == "[]", r.stderr


# -- any definition, any command line --------------------------------------------------------

NAMES = {"a": "alpha", "b": "beta", "c": "count-it", "d": "delta", "e": "echo"}
VALUES = ["5", "0", "1.5", "x", "", "-1", "7", "c", "a b", "1_0", "=4"]


@st.composite
def definitions(draw):
    table = []
    letters = draw(st.lists(st.sampled_from(sorted(NAMES)), min_size=1, max_size=4,
                            unique=True))
    for letter in letters:
        form = draw(st.sampled_from(["short", "long", "both"]))
        flags = (("-" + letter,) if form != "long" else ()) + \
            (("--" + NAMES[letter],) if form != "short" else ())
        action = draw(st.sampled_from([None, "store", "store_true", "store_false",
                                       "store_const", "append", "append_const", "count"]))
        kw = {} if action is None else {"action": action}
        if action in (None, "store", "append"):
            t = draw(st.sampled_from([None, int, float, str]))
            if t is not None:
                kw["type"] = t
            if draw(st.integers(0, 4)) == 0:
                kw["choices"] = [5, 7] if t in (int, float) else \
                    draw(st.sampled_from([["x", "c"], "xc"]))
            if draw(st.integers(0, 6)) == 0:
                kw["nargs"] = draw(st.sampled_from(["?", 1, "*"]))
        if action in ("store_const", "append_const"):
            kw["const"] = draw(st.sampled_from([1, "k", None]))
        if draw(st.booleans()):
            kw["default"] = draw(st.sampled_from([None, 0, 5, "7", "x", 1.5, [], ["d"],
                                                  True, argparse.SUPPRESS]))
        if draw(st.integers(0, 5)) == 0:
            kw["required"] = True
        if draw(st.integers(0, 4)) == 0:
            kw["dest"] = draw(st.sampled_from(["shared", "other"]))
        if draw(st.integers(0, 15)) == 0:
            kw["type"] = int                    # sometimes a keyword the action refuses
        table.append((draw(st.sampled_from([None, "x1", "x1", "x2", "g"])), flags, kw))
    for name in draw(st.sampled_from([[], ["pos"], ["pos", "more"]])):
        kw = draw(st.sampled_from([{}, {"default": "p"}, {"type": int}, {"type": float}]))
        nargs = draw(st.sampled_from([None, "?", "*", "+"]))
        if nargs is not None:
            kw["nargs"] = nargs
        table.append((draw(st.sampled_from([None, None, "g"])), (name,), kw))
    for _ in range(draw(st.integers(0, 2))):
        table.insert(draw(st.integers(0, len(table))),
                     ("defaults", (), draw(st.sampled_from(
                         [{"shared": 9}, {"alpha": "s"}, {"a": 1, "zz": 2}]))))
    return table


def _build(make, table):
    p = make(prog="t")
    groups = {}
    for group, flags, kw in copy.deepcopy(table):
        if group == "defaults":
            p.set_defaults(**kw)
            continue
        target = p
        if group is not None:
            if group not in groups:
                groups[group] = p.add_argument_group("G") if group == "g" \
                    else p.add_mutually_exclusive_group()
            target = groups[group]
        target.add_argument(*flags, **kw)
    return p


@st.composite
def lines(draw, table):
    flags = [f for g, fl, _ in table if g != "defaults" for f in fl if f[0] == "-"]
    argv = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 11))
        f = draw(st.sampled_from(flags))
        v = draw(st.sampled_from(VALUES))
        if kind <= 3:
            argv += [f, v]
        elif kind <= 5:
            argv.append(f)
        elif kind == 6:
            argv.append(f + "=" + v)
        elif kind == 7:
            argv.append(f + v)                  # -a5 (and --alpha5: an unknown option)
        elif kind == 8:
            argv.append(draw(st.sampled_from(["-h", "--", "-", "pos", "--zz", "-q", "--he",
                                              "-ab", "-ba5"])))
        elif kind == 9:
            argv.append(f[:4])                  # an abbreviation, or the option itself
        else:
            argv.append(draw(st.sampled_from(["3", "x", "1.5", v])))   # a positional
    return argv


def _outcome(make, table, argv):
    o, e = io.StringIO(), io.StringIO()
    p = None
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        try:
            p = _build(make, table)
            res = ("ok", list(vars(p.parse_args(argv)).items()))
        except SystemExit as x:
            res = ("exit", x.code)
        except Exception as x:
            res = ("raise", type(x).__name__, str(x))
    return (res, o.getvalue(), e.getvalue()), p


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.data())
def test_any_definition_and_line_like_argparse(data):
    table = data.draw(definitions())
    argv = data.draw(lines(table))
    mine, p = _outcome(options.ArgumentParser, table, argv)
    theirs, _ = _outcome(argparse.ArgumentParser, table, argv)
    assert mine == theirs
    event("answered without argparse" if p is not None and p._real is None else "argparse")
