"""uprobe/USDT facts from a binary are cached by its identity: a warm start parses no ELF
and imports no pyelftools; a changed binary is parsed again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.data.linkprogs import build_target

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys
from pybpf.links import elfcache, usdt
off = elfcache.symbol_offset(sys.argv[1], "pt_target_func")
sites = usdt.find(sys.argv[1], "pybpf_test", "tick")
print(off, len(sites), sites[0].args_spec, "elftools" in " ".join(sys.modules))
"""


def _run(path: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, "-c", PROBE, path], capture_output=True, text=True,
                       env=env, check=True)
    return r.stdout.split()


def test_warm_lookups_parse_no_elf(tmp_path):
    target = build_target(str(tmp_path))
    from pybpf.links import symbols
    want = symbols.symbol_offset(target, "pt_target_func")
    cold = _run(target)
    warm = _run(target)
    assert cold[:2] == warm[:2] == [str(want), "1"]
    assert cold[-1] == "True" and warm[-1] == "False"      # pyelftools only when cold
    # a rebuilt binary (new inode/mtime) is a new key: parsed again, right answer
    copy = tmp_path / "copy"
    shutil.copy(target, copy)
    assert _run(str(copy))[-1] == "True"


def test_offsets_of_a_few_names_match_the_whole_table(tmp_path, monkeypatch):
    """The small record a tool probing a few functions reads gives exactly the whole
    table's offsets for those names, leaves out absent names, and is cached by the
    binary's identity and the names (another set of names is its own entry)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = build_target(str(tmp_path))
    from pybpf.links import elfcache, symbols
    full = elfcache.function_offsets(target)
    names = ["pt_target_func", "main", "no_such_function"]
    got = elfcache.function_offsets_of(target, names)
    assert got == {n: full[n] for n in names if n in full}
    assert got["pt_target_func"] == symbols.symbol_offset(target, "pt_target_func")
    assert "no_such_function" not in got
    assert elfcache.function_offsets_of(target, names[::-1]) == got        # a cache hit
    assert elfcache.function_offsets_of(target, ["main"]) == {"main": full["main"]}
    key = elfcache._key(target, "symbols-of|" + "\0".join(sorted(names)))
    assert elfcache._get(key) == got


def test_library_offsets_by_name_are_resolve_and_offsets_of(tmp_path, monkeypatch):
    """A library named by its soname: the same path and offsets as resolve_path and
    function_offsets_of give, from one record; a record naming a file that changed
    since (here: one whose identity no longer matches) is looked up again, and a
    missing ld.so.cache or a path go the ordinary way."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    from pybpf.links import elfcache, libpath
    names = ("getaddrinfo", "gethostbyname", "no_such_function")
    real = libpath.resolve_path("c")
    want = elfcache.function_offsets_of(real, names)
    assert elfcache.library_offsets("c", names) == (real, want)
    assert elfcache.library_offsets("c", names[::-1]) == (real, want)      # the record
    import sys
    key = elfcache._key(libpath.LD_SO_CACHE, "library-offsets|" + "\0".join(
        ["c", sys.executable, *sorted(names)]))
    got = elfcache._get(key)
    assert got[0] == real and got[2] == want
    # a stale record (the library's identity differs): resolved again, record rewritten
    elfcache._put(key, [real, [0, 0, 0, 0], {"getaddrinfo": 1}])
    assert elfcache.library_offsets("c", names) == (real, want)
    assert elfcache._get(key)[2] == want
    # a path: no ld.so.cache record involved
    assert elfcache.library_offsets(real, names) == (real, want)
    monkeypatch.setattr(libpath, "LD_SO_CACHE", str(tmp_path / "no-ld.so.cache"))
    monkeypatch.setattr(libpath, "_FOUND", {})
    try:
        got = elfcache.library_offsets("c", names)
    except Exception as e:          # no cache: ldconfig -p, as resolve_path does
        assert type(e).__name__ == "NotFoundError"
    else:
        assert got == (real, want)
