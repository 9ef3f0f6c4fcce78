"""What a warm start never runs lives in modules of its own (the full load path, plan
recording, load errors, test runs, cache writing, typed globals, argparse, pinned filter
maps, closed pipes, ELF symbol tables...): the warm path's modules do not import them,
and every moved name is still importable from where it was.  Root-free; the real start
of a tool is checked in test_warm_start.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pybpf

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(pybpf.__file__)))

# modules a tool's warm start imports (the plan replays; the tool streams or counts)
WARM = ["pybpf.cli", "pybpf.tools._run", "pybpf.tools._common", "pybpf.tools._args",
        "pybpf.options", "pybpf.bundled", "pybpf.object.loader", "pybpf.object.builder",
        "pybpf.object.plan", "pybpf.object.attach", "pybpf.programs", "pybpf.maps",
        "pybpf.cache", "pybpf.safepath", "pybpf.errors", "pybpf.ringbuf",
        "pybpf.links.tracepoint", "pybpf.links.raw_tracepoint", "pybpf.links.perf_event",
        "pybpf.links.uprobe", "pybpf.links.elfcache", "pybpf.links.libpath",
        "pybpf.btf.handle", "pybpf._sys.uapi", "pybpf.codeid", "pybpf.kernelid",
        "pybpf.tools._hist"]

# what only a cold start, an error, a rare option or introspection needs
COLD = ["pybpf.object.fullload", "pybpf.object.planrecord", "pybpf.object.globalview",
        "pybpf.loaderror", "pybpf.testrun", "pybpf.cachewrite", "pybpf.atomicwrite",
        "pybpf._record", "pybpf.tools._argparse", "pybpf.tools._pinned",
        "pybpf.tools._pipes", "pybpf.links.symbols", "elftools", "pybpf.object.spec",
        "pybpf.info", "pybpf.typedvalue", "pybpf.ctypes_btf", "argparse", "re", "enum",
        "tempfile"]


def _run(code: str, cache_home: str | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": SRC_DIR}
    if cache_home:
        env["XDG_CACHE_HOME"] = cache_home       # plan.read looks in the default cache
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout.strip()


def test_the_warm_path_imports_no_cold_module():
    out = _run(f"import sys\nfor m in {WARM!r}: __import__(m)\n"
               f"print(sorted(set({COLD!r}) & set(sys.modules)))")
    assert out == "[]"


def test_warm_path_calls_stay_off_the_cold_modules(tmp_path):
    """What a replayed start calls, without a kernel: a cache miss and hit, a plan read,
    a plain constant encoded from a plan's type table, the tools' lazy parser."""
    code = f"""
import os, sys
from pybpf import cache
from pybpf.object import builder, plan
from pybpf.tools import _common
c = cache.Cache({str(tmp_path)!r})
k = cache.key_of("x")
assert c.get(k) is None                          # a miss reads nothing, writes nothing
assert plan.read(k) is None

class Obj:                                       # a replayed object's globals
    _spec = None
    _plan = {{"types": {{1: (1, "int", 0, 4, 1)}}}}
    def _var(self, name):
        return (".rodata", 0, 4, True, 1)
assert builder.encode_global(Obj(), "targ_pid", -2) == (-2).to_bytes(4, "little", signed=True)
p = _common.ArgumentParser(prog="t")
p.add_argument("-p", "--pid", type=_common.pid_arg)
assert p.parse_args([]).pid is None
print(sorted(set({COLD!r}) & set(sys.modules)))
"""
    assert _run(code, str(tmp_path / "home")) == "[]"


@pytest.mark.parametrize("module, names", [
    ("pybpf.cache", ["parse_size", "sweep_temps"]),
    ("pybpf.safepath", ["write_atomically", "replace_atomically"]),
    ("pybpf.programs", ["TestRunResult"]),
    ("pybpf.object.plan", ["write", "map_entry", "fd_relocations", "attach_entry"]),
    ("pybpf.object.globalview", ["GlobalsMixin", "_plain_scalar", "_plain_int"]),
    ("pybpf.tools._common", ["help_formatter", "open_pinned_map", "closed_pipe",
                             "silence_stdout"]),
    ("pybpf._record", ["IntTable", "StrTable", "Record", "named_tuple"]),
    ("pybpf.links.symbols", ["resolve_path", "find_library", "elf_symbols"]),
])
def test_moved_names_are_importable_where_they_were(module, names):
    mod = __import__(module, fromlist=names)
    for name in names:
        assert callable(getattr(mod, name)), name
    with pytest.raises(AttributeError):
        getattr(mod, "no_such_name")


def test_moved_names_are_the_same_objects():
    from pybpf import _record, _table, atomicwrite, cache, cachewrite, safepath, testrun
    from pybpf.object import builder, globalview, loader, plan, planrecord
    from pybpf.tools import _argparse, _common, _pinned
    import pybpf.programs as programs
    assert cache.parse_size is cachewrite.parse_size and cache.parse_size("2K") == 2048
    assert safepath.write_atomically is atomicwrite.write_atomically
    assert programs.TestRunResult is testrun.TestRunResult
    assert plan.fd_relocations is planrecord.fd_relocations
    assert globalview.GlobalsMixin is loader.GlobalsMixin
    assert globalview._plain_scalar is builder._plain_scalar
    assert _record.IntTable is _table.IntTable
    from pybpf.links import libpath, symbols
    assert symbols.resolve_path is libpath.resolve_path
    assert _common.help_formatter is _argparse.help_formatter
    assert _common.open_pinned_map is _pinned.open_pinned_map
    from pybpf.object.loader import Object
    assert issubclass(Object, globalview.GlobalsMixin)
    assert Object.typed_map.__doc__ and Object.bss.__doc__


def test_cache_methods_still_write_and_bound(tmp_path):
    """Cache's writing methods, now thin, do what they did."""
    from pybpf import cache
    c = cache.Cache(str(tmp_path / "c"), max_bytes=1 << 20)
    k = cache.key_of("entry")
    path = c.put(k, b"data")
    assert c.get(k) == b"data" and os.stat(path).st_mode & 0o777 == 0o600
    assert c.file_ok(path) and [e[0] for e in c.entries()] == [os.path.basename(path)]
    hdr = os.path.join(c.dir_for(k), "vmlinux.h")
    c.write_sealed(hdr, b"typedef int x;\n")
    assert c.sealed_ok(hdr)
    with open(hdr, "ab") as f:
        f.write(b"tampered")
    assert not c.sealed_ok(hdr)
    assert c.usage() > 0
    assert c.clear()[0] == 2 and c.entries() == []
