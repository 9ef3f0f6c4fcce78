"""A tool's warm start does only what it must: no argparse for a run without arguments, no
enum/re, no BTF type model for plain constants, no read of the tool's object when its
load plan replays.  The pure parts check each shortcut gives exactly what the long way
gives; the kernel parts check a real start."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import select
import signal
import subprocess
import sys

import pytest

import pybpf
from pybpf import tools
from pybpf._sys import uapi
from pybpf.object import globalview
from pybpf import options
from pybpf.tools import _common

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(pybpf.__file__)))


# -- the parser built on demand ------------------------------------------------------------

def _real_defaults(p):
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return vars(p._build().parse_args([]))
    except SystemExit:
        return None


@pytest.mark.parametrize("name", tools.names())
def test_no_argument_defaults_are_argparses(name):
    """For every tool, the recorded defaults are what argparse's parse_args([]) gives; a
    tool whose parser needs an argument is answered by argparse (None here)."""
    p = importlib.import_module(f"pybpf.tools.{name}").parser()
    assert isinstance(p, options.ArgumentParser)
    fast = p.defaults()
    real = _real_defaults(p)
    if fast is None:
        assert real is None, f"{name}: a parser that parses [] should take the shortcut"
    else:
        assert vars(fast) == real


def _sample():
    p = _common.ArgumentParser(prog="pybpf sample")
    p.add_argument("-p", "--pid", type=int)
    p.add_argument("-T", "--time", action="store_true")
    p.add_argument("--no-color", dest="color", action="store_false")
    p.add_argument("-v", action="count")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ipv4", action="store_true")
    g.add_argument("--ipv6", action="store_true")
    p.add_argument("interval", nargs="?", type=float, default=1.0)
    p.add_argument("rest", nargs="*")
    p.set_defaults(extra=5)
    return p


def test_shortcut_and_argparse_agree_and_arguments_go_to_argparse(capsys):
    p = _sample()
    ns = p.parse_args([])
    assert "argparse" not in type(ns).__module__
    assert vars(ns) == {"pid": None, "time": False, "color": True, "v": None, "ipv4": False,
                        "ipv6": False, "interval": 1.0, "rest": [], "extra": 5}
    assert vars(ns) == vars(_sample()._build().parse_args([]))
    assert "pid" in ns and ns == options.Namespace(**vars(ns))
    args = _sample().parse_args(["-p", "7", "--ipv4", "2.5"])
    assert (args.pid, args.ipv4, args.interval) == (7, True, 2.5)
    with pytest.raises(SystemExit) as e:
        _sample().parse_args(["--ipv4", "--ipv6"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not allowed with" in err[0]
    assert "usage:" in _sample().format_help()           # anything else: argparse's


@pytest.mark.parametrize("build, why", [
    (lambda p: p.add_argument("pattern"), "a required positional"),
    (lambda p: p.add_argument("-x", required=True), "a required option"),
    (lambda p: p.add_argument("-n", type=int, default="3"), "a string default with a type"),
    (lambda p: p.add_argument("--version", action="version", version="1"), "other actions"),
    (lambda p: p.add_mutually_exclusive_group(required=True).add_argument("-a"),
     "a required group"),
])
def test_unusual_parsers_are_left_to_argparse(build, why):
    p = _common.ArgumentParser(prog="pybpf sample")
    build(p)
    assert p.defaults() is None, why


def test_string_default_with_type_is_converted_as_argparse_does():
    p = _common.ArgumentParser(prog="pybpf sample")
    p.add_argument("-n", type=int, default="3")
    assert p.parse_args([]).n == 3


# -- the UAPI tables ------------------------------------------------------------------------

def test_uapi_tables_behave_as_enums_without_building_one():
    enum_ = uapi.MapType.enum()                  # the real IntEnum, for comparison
    for m in enum_:
        t = uapi.MapType(int(m))
        assert t is getattr(uapi.MapType, m.name) and t == m and t.value == m.value
        assert (t.name, repr(t), str(t), f"{t:x}") == (m.name, repr(m), str(m), f"{m:x}")
    assert list(uapi.MapType) == list(enum_) and len(uapi.MapType) == len(enum_)
    assert isinstance(uapi.MapType.HASH, uapi.MapType) and isinstance(uapi.MapType.HASH, int)
    assert not isinstance(uapi.MapType.HASH, uapi.ProgType) and not isinstance(1, uapi.MapType)
    assert uapi.Cmd.PROG_RUN is uapi.Cmd.PROG_TEST_RUN                   # an alias
    assert uapi.Cmd.name_of(10) == uapi.Cmd(10).name == "PROG_TEST_RUN"
    assert uapi.Cmd.name_of(4242) is None
    with pytest.raises(ValueError, match="not a valid MapType"):
        uapi.MapType(4242)
    flags = uapi.MapFlag.MMAPABLE | uapi.MapFlag.RDONLY_PROG
    assert uapi.MapFlag(flags) == flags and uapi.MapFlag(flags) & uapi.MapFlag.MMAPABLE
    assert uapi.ProgType.XDP in uapi.ProgType._value2member_map_
    assert uapi.MapType["RINGBUF"] == 27 and uapi.MapType.__members__["HASH"] == 1
    code = ("import sys, pybpf._sys.uapi as u; u.MapType(1).name; list(u.ProgType); "
            "print('enum' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC_DIR})
    assert r.stdout.strip() == "False", r.stderr



def test_rare_attr_layouts_are_found_through_attr_without_loading_them_at_start():
    """_sys.attr holds what a start uses; the rest (attr_more) is still ``attr.X``."""
    import ctypes
    from pybpf._sys import attr
    assert attr.TestRun(prog_fd=3, repeat=2).repeat == 2
    assert ctypes.sizeof(attr.GetId) == 12 and attr.LinkInfo is attr.LinkInfo
    with pytest.raises(AttributeError):
        attr.NoSuchLayout
    code = ("import sys, pybpf._sys.attr as a; a.MapCreate, a.ProgLoad, a.LinkCreate, "
            "a.RawTracepointOpen; print('pybpf._sys.attr_more' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC_DIR})
    assert r.stdout.strip() == "False", r.stderr

# -- plain constants without the type model -------------------------------------------------

# a plan's type table: id -> (kind, name, ref, size, encoding, signed, nelems, members, sizeof)
_TYPES = {
    1: (1, "unsigned int", 0, 4, 0, False, 0, (), 4),
    2: (1, "int", 0, 4, 1, True, 0, (), 4),
    3: (1, "_Bool", 0, 1, 4, False, 0, (), 1),
    4: (1, "char", 0, 1, 1, True, 0, (), 1),
    5: (8, "__u32", 1, 0, 0, False, 0, (), 4),
    6: (9, "", 5, 0, 0, False, 0, (), 4),
    7: (10, "", 6, 0, 0, False, 0, (), 4),                   # const volatile __u32
    8: (1, "unsigned short", 0, 2, 0, False, 0, (), 2),
    9: (3, "", 8, 0, 0, False, 8, (), 16),                   # __u16[8]
    10: (3, "", 4, 0, 0, False, 16, (), 16),                 # char[16]
    11: (1, "long long", 0, 8, 1, True, 0, (), 8),
    12: (1, "signed char", 0, 1, 3, True, 0, (), 1),         # BTF_INT_CHAR|SIGNED
}


@pytest.mark.parametrize("tid", sorted(_TYPES))
def test_plain_constants_are_encoded_as_the_codec_encodes_them(tid):
    from pybpf.ctypes_btf import TypeTable
    from pybpf.typedvalue import Codec
    codec = Codec(TypeTable(_TYPES))
    values = [0, 1, 2, -1, 127, 128, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1,
              2**32, 2**63 - 1, 2**63, -2**63, -2**63 - 1, True, False, b"", b"\x01\x02",
              bytes(16), bytes(17), "a", 1.5, None]
    answered = 0
    for v in values:
        fast = globalview._plain_scalar(_TYPES, tid, v)
        if fast is None:
            continue
        answered += 1
        assert fast == codec.encode(tid, v, "x"), (tid, v)
    # what it leaves to the codec: chars, strings, floats, what does not fit
    assert globalview._plain_scalar(_TYPES, 10, b"ab") is None
    assert globalview._plain_scalar(_TYPES, 4, 1) is None
    assert globalview._plain_scalar(_TYPES, 7, 2**32) is None
    assert globalview._plain_scalar(_TYPES, 3, 2) is None
    assert tid in (4, 10, 12) or answered


# -- a real warm start ------------------------------------------------------------------------

@pytest.mark.kernel
def test_a_replayed_load_never_reads_the_object(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYBPF_NO_PLAN", raising=False)
    read, identity = _common.tool_source("exitsnoop")
    assert identity is not None
    calls = []

    def fetch():
        calls.append(1)
        return read()
    with pybpf.load(fetch, name="exitsnoop", cache_key=identity) as first:
        assert calls == [1] and first._plan is None          # no plan yet: read, recorded
        names = set(first.programs)
    with pybpf.load(fetch, name="exitsnoop", cache_key=identity) as obj:
        assert calls == [1] and obj._plan is not None        # replayed, nothing read
        assert set(obj.programs) == names
        assert set(obj.spec.programs) == names
        assert calls == [1, 1]                               # .spec reads it on demand


@pytest.mark.kernel
@pytest.mark.parametrize("tool, banner", [("opensnoop", b"PID"), ("runqlat", b"Tracing"),
                                        ("killsnoop", b"PID"), ("sigsnoop", b"PID")])
def test_a_tools_warm_start_imports_only_what_it_needs(tool, banner):
    env = {**os.environ, "PYTHONPATH": SRC_DIR}
    # the command as installed (bin/pybpf): `-m` adds runpy's imports (collections...)
    script = os.path.join(os.path.dirname(SRC_DIR), "bin", "pybpf")
    as_script = os.path.exists(script)
    cmd = [sys.executable] + ([script] if as_script else ["-m", "pybpf"]) + [tool]
    subprocess.run(cmd + ["-h"], env=env, capture_output=True, check=True)
    # once to record the plan (and compile the object in a source checkout), once more for
    # a warm run's start-up bundle (written at the end: cachewrite, tempfile), then measured
    for attempt in range(3):
        p = subprocess.Popen(cmd, env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = b""
        while banner not in out:
            r, _, _ = select.select([p.stdout], [], [], 60)
            assert r, f"{tool} printed nothing"
            chunk = os.read(p.stdout.fileno(), 65536)
            assert chunk, f"{tool} ended: {p.stderr.read().decode()[-2000:]}"
            out += chunk
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 0, err.decode()[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in err.decode().splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "pybpf.object.builder" in imported            # it did load (from its plan)
    banned = {"argparse", "gettext", "locale", "re", "enum", "signal", "pybpf.btf.kinds",
              "pybpf.ctypes_btf", "pybpf.typedvalue", "pybpf.object.spec", "pybpf.elf",
              "pybpf.toolchain", "json", "typing", "dataclasses", "pathlib", "shutil",
              "hashlib", "subprocess", "tempfile", "_blake2", "pybpf.bpffs",
              # what only a cold start, an error or a rare option needs (test_warm_split)
              "pybpf.object.fullload", "pybpf.object.planrecord", "pybpf.object.globalview",
              "pybpf.loaderror", "pybpf.testrun", "pybpf.cachewrite", "pybpf.atomicwrite",
              "pybpf.tools._argparse", "pybpf.tools._pinned", "pybpf.tools._pipes"}
    if as_script:
        banned.add("collections")       # runpy (-m) imports it; the command does not
    # runqlat's report at SIGINT prints its histogram: what that imports comes after
    assert not banned & imported, sorted(banned & imported)


def test_a_built_object_is_named_without_being_read(tmp_path):
    """A wheel's ``<stem>.bpf.o``: its identity comes from a stat, its bytes on demand."""
    from pybpf.bundled import bundled_object, bundled_source
    obj = tmp_path / "t.bpf.o"
    obj.write_bytes(b"\x7fELF one")
    read, ident = bundled_source(str(tmp_path), "t")
    assert read() == b"\x7fELF one" and len(ident) == 64
    assert bundled_source(str(tmp_path), "t")[1] == ident        # stable
    assert bundled_object(str(tmp_path), "t") == (b"\x7fELF one", ident)
    obj.unlink()
    obj.write_bytes(b"\x7fELF two!")                              # a new build: a new name
    read2, ident2 = bundled_source(str(tmp_path), "t")
    assert ident2 != ident and read2() == b"\x7fELF two!"


# -- the cyclic collector during a start ---------------------------------------------------

@pytest.fixture
def collector(monkeypatch):
    """The test process's collector as it was, after a test that froze its objects; the
    tools run here as they do in the ``pybpf`` command."""
    import gc
    from pybpf.tools import _run
    monkeypatch.setattr(_run, "_the_command", lambda: True)
    was = gc.isenabled()
    yield gc
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_collector_is_off_while_a_tool_starts_and_on_once_it_is_loaded(collector):
    from pybpf.tools import _run
    seen = []

    def run(args, out):
        seen.append(collector.isenabled())
        _run.collector_on()                 # what _run.load does once the object is loaded
        seen.append(collector.isenabled())
        return 0

    collector.enable()
    assert _run.main("t", lambda: _common.ArgumentParser(prog="t"), run, []) == 0
    assert seen == [False, True] and collector.isenabled()
    assert collector.get_freeze_count() > 0          # the start's objects left its sight


def test_collector_is_on_again_whatever_ends_the_start(collector, monkeypatch, capsys):
    from pybpf.tools import _run

    def fail(args, out):
        assert not collector.isenabled()
        raise OSError(2, "No such file or directory", "/nowhere")

    collector.enable()
    assert _run.main("t", lambda: _common.ArgumentParser(prog="t"), fail, []) == 1
    assert collector.isenabled() and "/nowhere" in capsys.readouterr().err

    # a load that fails turns it on as a loaded one does
    def broken(*a, **k):
        raise OSError(1, "Operation not permitted")
    monkeypatch.setattr(_run, "_load", broken)
    _run.collector_off()
    with pytest.raises(OSError):
        _run.load("t", None)
    assert collector.isenabled()


def test_a_collector_the_caller_turned_off_stays_off(collector):
    """An embedding program that runs with the collector off keeps it off."""
    from pybpf.tools import _run
    collector.disable()
    assert _run.main("t", lambda: _common.ArgumentParser(prog="t"),
                     lambda args, out: 0, []) == 0
    _run.collector_on()
    assert not collector.isenabled()


def test_a_cold_load_gets_a_full_pass_before_the_freeze(collector, monkeypatch):
    """A replayed load (no spec kept) freezes at once; a load that parsed the object (a
    cold start: its garbage must not be frozen for the tool's life) is collected first."""
    from pybpf.tools import _run

    class Loaded:
        def __init__(self, spec):
            self._spec = spec

    passes = []
    monkeypatch.setattr(_run.gc, "collect", lambda *a: passes.append(a) or 0)
    for spec, want in ((None, []), (object(), [()])):
        passes.clear()
        monkeypatch.setattr(_run, "_load", lambda *a, spec=spec: Loaded(spec))
        collector.enable()
        _run.collector_off()
        assert isinstance(_run.load("t", None), Loaded)
        assert passes == want and collector.isenabled()


def test_a_program_calling_a_tool_keeps_its_collector(monkeypatch):
    """Only the pybpf command pauses and freezes: a program that runs a tool's main itself
    (these tests, an embedding application) keeps its collector and its objects as they
    are."""
    import gc
    from pybpf.tools import _run
    assert not _run._the_command()               # pytest's __main__ is not pybpf's
    frozen = gc.get_freeze_count()
    seen = []

    def run(args, out):
        seen.append(gc.isenabled())
        return 0

    assert gc.isenabled()
    assert _run.main("t", lambda: _common.ArgumentParser(prog="t"), run, []) == 0
    assert seen == [True] and gc.isenabled() and gc.get_freeze_count() == frozen
    fake = type(sys)("pybpf.__main__")
    monkeypatch.setitem(sys.modules, "pybpf.__main__", fake)     # as bin/pybpf has it
    assert _run._the_command()


@pytest.mark.kernel
def test_minimals_warm_start_reads_its_counter_without_the_type_model():
    """examples/minimal reads and writes .bss integers before it says it started: from a
    plan these need the plan's type table only, not ctypes_btf/typedvalue/btf.kinds."""
    env = {**os.environ, "PYTHONPATH": SRC_DIR}
    script = os.path.join(os.path.dirname(SRC_DIR), "examples", "minimal", "minimal.py")
    for attempt in range(2):        # the first run may compile and records the plan
        p = subprocess.run([sys.executable, script, "-n", "2", "-i", "0.01"],
                           env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert b"the program saw 2 writes" in p.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in p.stderr.decode().splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "pybpf.object.builder" in imported and "pybpf.object.spec" not in imported
    assert not {"pybpf.typedvalue", "pybpf.ctypes_btf", "pybpf.btf.kinds"} & imported
