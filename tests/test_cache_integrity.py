"""Cache entries are facts, not trust: a damaged, edited or foreign entry is a miss and is
rebuilt (never loaded, never the same error on every start); records follow pybpf's own
code; the cache stays under its size limit, least recently used first."""

from __future__ import annotations

import importlib
import marshal
import os
import time

import pytest

import pybpf
from pybpf import cache as cachemod
from pybpf.cache import Cache, key_of, read_private, write_private

cc = importlib.import_module("pybpf.toolchain")
KEY = key_of("integrity")


# ---- sealed entries (pure) -------------------------------------------------------------

def test_truncated_edited_and_renamed_entries_are_misses(tmp_path):
    c = Cache(tmp_path / "c")
    path = c.put(KEY, b"x" * 1000)
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[:-1])                         # truncated
    assert c.get(KEY) is None
    open(path, "wb").write(raw[:-5] + b"EDIT!")              # edited in place
    assert c.get(KEY) is None
    other = key_of("another")
    open(c.path_for(other), "wb").write(raw)                 # foreign: another key's entry
    os.chmod(c.path_for(other), 0o600)
    assert c.get(other) is None
    open(path, "wb").write(raw)
    assert c.get(KEY) == b"x" * 1000


def test_private_files_are_sealed_by_name(tmp_path):
    d = Cache(tmp_path / "c").check()
    p = os.path.join(d, "btf-index-abc")
    write_private(p, b"index bytes")
    assert read_private(p) == b"index bytes"
    os.rename(p, os.path.join(d, "btf-index-def"))
    assert read_private(os.path.join(d, "btf-index-def")) is None
    raw = bytearray(open(os.path.join(d, "btf-index-def"), "rb").read())
    raw[-1] ^= 0xFF
    write_private(p, b"index bytes")
    with open(p, "r+b") as f:
        f.seek(-1, 2)
        f.write(b"\0")
    assert read_private(p) is None


def test_records_are_keyed_on_pybpfs_code(tmp_path, monkeypatch):
    from pybpf import codeid
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cachemod.put_record(KEY, {"v": 1})
    assert cachemod.get_record(KEY) == {"v": 1}
    monkeypatch.setattr(codeid, "_memo", ["0" * 32])          # another pybpf build
    assert cachemod.get_record(KEY) is None


def _one_module_package(tmp_path, monkeypatch):
    """(codeid, package dir, its identity): a package of one module, object/loader.py."""
    from pybpf import codeid
    pkg = tmp_path / "pkg"
    (pkg / "object").mkdir(parents=True)
    (pkg / "object" / "loader.py").write_text("x = 1\n")
    monkeypatch.setattr(codeid, "_PKG", str(pkg))
    monkeypatch.setattr(codeid, "_memo", [])
    return codeid, pkg, codeid.code_identity()


def test_code_identity_changes_when_a_module_changes(tmp_path, monkeypatch):
    codeid, pkg, first = _one_module_package(tmp_path, monkeypatch)
    (pkg / "object" / "loader.py").write_text("x = 22\n")
    monkeypatch.setattr(codeid, "_memo", [])
    assert codeid.code_identity() != first


def test_code_identity_lists_no_byte_code(tmp_path, monkeypatch):
    """__pycache__ holds no source: byte code written by a run changes nothing (and its
    listing is not paid for on every start)."""
    codeid, pkg, first = _one_module_package(tmp_path, monkeypatch)
    cache = pkg / "object" / "__pycache__"
    cache.mkdir()
    (cache / "loader.cpython-311.pyc").write_bytes(b"\0" * 16)
    (cache / "stray.py").write_text("y = 2\n")      # not source even when named .py
    monkeypatch.setattr(codeid, "_memo", [])
    assert codeid.code_identity() == first


def test_a_built_package_is_named_by_its_stamp(tmp_path, monkeypatch):
    """A wheel's ``_codestamp`` (a digest of its sources) names the code: no module is
    stat'ed; another build's sources give another stamp, so another identity."""
    codeid, pkg, scanned = _one_module_package(tmp_path, monkeypatch)
    (pkg / codeid.STAMP).write_text(codeid.source_digest(str(pkg)) + "\n")
    monkeypatch.setattr(codeid, "_memo", [])
    monkeypatch.setattr(codeid, "_scan", lambda: pytest.fail("scanned despite a stamp"))
    stamped = codeid.code_identity()
    assert stamped != scanned and len(stamped) == 32
    (pkg / "object" / "loader.py").write_text("x = 2\n")     # same size, another build
    (pkg / codeid.STAMP).write_text(codeid.source_digest(str(pkg)) + "\n")
    monkeypatch.setattr(codeid, "_memo", [])
    assert codeid.code_identity() != stamped


def test_source_digest_covers_every_source_and_only_sources(tmp_path):
    from pybpf import codeid
    pkg = tmp_path / "pkg"
    (pkg / "tools" / "t").mkdir(parents=True)
    (pkg / "a.py").write_text("a = 1\n")
    (pkg / "tools" / "t" / "t.h").write_text("int x;\n")
    first = codeid.source_digest(str(pkg))
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0" * 16)
    (pkg / "t.bpf.o").write_bytes(b"\x7fELF")
    assert codeid.source_digest(str(pkg)) == first          # byte code, objects: not source
    (pkg / "tools" / "t" / "t.h").write_text("int y;\n")   # a tool's header counts too
    assert codeid.source_digest(str(pkg)) != first


def test_a_damaged_stamp_falls_back_to_the_scan(tmp_path, monkeypatch):
    codeid, pkg, scanned = _one_module_package(tmp_path, monkeypatch)
    (pkg / codeid.STAMP).write_text("not a digest\n")
    monkeypatch.setattr(codeid, "_memo", [])
    assert codeid.code_identity() == scanned


def test_a_checkout_has_no_stamp():
    """src/ must never carry a stamp (it would freeze the identity of code being edited):
    only a build writes one, into its build directory."""
    from pybpf import codeid
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    assert not os.path.exists(os.path.join(src, "pybpf", codeid.STAMP))


# ---- eviction (pure) -------------------------------------------------------------------

def _fill(c: Cache, n: int, size: int) -> list[str]:
    keys = []
    now = time.time()
    for i in range(n):
        k = key_of("entry", str(i))
        p = c.put(k, os.urandom(size))
        os.utime(p, (now - 10000 + i, now - 10000 + i))       # entry i used at t0 + i
        keys.append(k)
    return keys


def test_eviction_removes_least_recently_used_first(tmp_path):
    c = Cache(tmp_path / "c", max_bytes=1 << 40)
    keys = _fill(c, 40, 16 << 10)
    # entry 0, the oldest, is used again now: it must survive
    assert c.get(keys[0]) is not None
    os.utime(c.path_for(keys[0]))
    total = c.usage()
    removed, freed = c.evict(max_bytes=total // 2)
    assert removed > 0 and c.usage() <= (total // 2) * 3 // 4
    left = [k for k in keys if os.path.exists(c.path_for(k))]
    assert keys[0] in left
    gone = [i for i, k in enumerate(keys) if k not in left]
    kept = [i for i, k in enumerate(keys) if k in left and i]
    assert max(gone) < min(kept)                               # oldest went first


def test_put_keeps_the_cache_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(cachemod, "EVICT_INTERVAL", 0.0)
    c = Cache(tmp_path / "c", max_bytes=256 << 10)
    _fill(c, 30, 16 << 10)          # 480 KiB offered to a 256 KiB cache
    assert c.usage() <= 256 << 10


def test_a_hit_refreshes_last_use(tmp_path):
    c = Cache(tmp_path / "c")
    p = c.put(KEY, b"data")
    os.utime(p, (1, 1))
    assert c.get(KEY) == b"data"
    assert time.time() - os.stat(p).st_mtime < 60


def test_parse_size():
    assert cachemod.parse_size("512M") == 512 << 20 and cachemod.parse_size("1G") == 1 << 30
    assert cachemod.parse_size("4096") == 4096
    with pytest.raises(ValueError):
        cachemod.parse_size("lots")


def test_clear_and_stale_temp_sweep(tmp_path):
    c = Cache(tmp_path / "c")
    _fill(c, 3, 100)
    dead = os.path.join(c.root, f"{cachemod.TEMP_PREFIX}999999999-dead")
    os.mkdir(dead, 0o700)
    open(os.path.join(dead, "out.o"), "w").close()
    mine = os.path.join(c.root, f"{cachemod.TEMP_PREFIX}{os.getpid()}-live")
    os.mkdir(mine, 0o700)
    n, _ = c.clear()
    assert n == 3 and not os.path.exists(dead) and os.path.exists(mine)
    os.rmdir(mine)
    assert c.entries() == []


# ---- damaged entries of the real pipeline: rebuilt, not an error on every start ------

SRC = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("socket") int prog(struct __sk_buff *skb) { return VALUE; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("PYBPF_NO_PLAN", raising=False)
    return Cache.default()


def test_a_truncated_object_is_rebuilt(own_cache):
    obj = cc.compile(SRC, cflags=["-DVALUE=5"], cache=own_cache)
    # the biggest sealed entry is the object
    name = max((n for n in os.listdir(own_cache.root) if n.endswith(".s1")),
               key=lambda n: os.path.getsize(os.path.join(own_cache.root, n)))
    path = os.path.join(own_cache.root, name)
    os.truncate(path, os.path.getsize(path) // 2)
    assert cc.compile(SRC, cflags=["-DVALUE=5"], cache=own_cache) == obj
    assert cc.compile(SRC, cflags=["-DVALUE=5"], cache=own_cache) == obj


def test_a_truncated_vmlinux_h_is_regenerated(own_cache):
    cc.compile(SRC, cflags=["-DVALUE=1"], cache=own_cache)
    (hdr,) = [os.path.join(own_cache.root, d, "vmlinux.h")
              for d in os.listdir(own_cache.root) if d.endswith(".d")]
    size = os.path.getsize(hdr)
    os.truncate(hdr, size // 3)            # cut in the middle of a declaration
    obj = cc.compile(SRC, cflags=["-DVALUE=2"], cache=own_cache)    # used to fail forever
    assert obj.startswith(b"\x7fELF") and os.path.getsize(hdr) == size


BCC_SRC = "int prog(struct pt_regs *ctx) { return VALUE + bpf_get_smp_processor_id(); }\n"


def test_bcc_compiles_regenerate_a_truncated_vmlinux_h_and_survive_a_bad_pch(own_cache):
    """The bcc front end reads vmlinux.h through a precompiled header: the header's seal
    is checked there too, and a damaged or vanished PCH costs one plain compile."""
    from pybpf.bcc import prelude, rewrite
    inc = [os.path.join(os.path.dirname(prelude.__file__), "include")]
    src = rewrite.rewrite(BCC_SRC, bind=lambda k, t, s, r: rewrite.Binding("kprobe", t, s, r),
                          tp_struct=None).source
    prelude.compile(src, ["-DVALUE=1"], inc)
    vdir, _ = prelude.kernel_dir(own_cache)
    hdr = os.path.join(vdir, "vmlinux.h")
    size = os.path.getsize(hdr)
    os.truncate(hdr, size // 3)
    # a bcc compile that finds no intact header uses a cut one (bcc/minihdr.py) and
    # does not read it; whatever reads it (the PCH's maker) makes it again first
    obj = prelude.compile(src, ["-DVALUE=2"], inc)
    assert obj.startswith(b"\x7fELF")
    prelude.kernel_dir(own_cache)
    assert os.path.getsize(hdr) == size
    pch = prelude.pch(vdir, inc, cache=own_cache)
    assert pch is not None and os.path.getsize(pch) > size
    os.truncate(pch, os.path.getsize(pch) // 2)              # damaged after it was made
    assert prelude.compile(src, ["-DVALUE=3"], inc).startswith(b"\x7fELF")
    assert not os.path.exists(pch)                           # dropped, not reused


def test_a_scrambled_btf_index_is_rebuilt(own_cache):
    from pybpf.btf import kernel
    spec = kernel.load_file(kernel.VMLINUX)
    want = spec.find("task_struct")
    (idx,) = [os.path.join(own_cache.root, n) for n in os.listdir(own_cache.root)
              if n.startswith("btf-index-")]
    raw = bytearray(open(idx, "rb").read())
    raw[100:4100] = bytes(reversed(raw[100:4100]))          # same length, wrong offsets
    open(idx, "wb").write(raw)
    again = kernel.load_file(kernel.VMLINUX)
    assert again.find("task_struct") == want
    assert again.types()[want[0]].name == "task_struct"


@pytest.mark.kernel
def test_an_edited_plan_is_not_replayed(own_cache):
    """A plan edited to 'r0 = 0; exit' used to load silently (the tool then saw nothing):
    the edit breaks the seal, so the load takes the full path and loads the real code."""
    from pybpf.cache import record_key
    from pybpf.object import plan
    from tests.test_object_load import _normalize
    obj_bytes = cc.compile(SRC, cflags=["-DVALUE=77"], cache=own_cache)
    with pybpf.load(obj_bytes, name="h12_plan") as first:
        ref = {n: _normalize(p.xlated()) for n, p in first.programs.items()}
    path = own_cache.path_for(record_key(plan.key(obj_bytes, "h12_plan")))
    raw = open(path, "rb").read()
    head, body = raw[:cachemod._FRAME], marshal.loads(raw[cachemod._FRAME:])
    for p in body["progs"]:
        p["insns"] = bytes.fromhex("b700000000000000" "9500000000000000")  # r0 = 0; exit
    open(path, "wb").write(head + marshal.dumps(body))
    with pybpf.load(obj_bytes, name="h12_plan") as second:
        assert second._plan is None
        assert {n: _normalize(p.xlated()) for n, p in second.programs.items()} == ref


# ---- the frame parser takes whatever is on disk: fuzzed --------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=64), st.integers(0, 300))
def test_unseal_never_raises_and_accepts_only_intact_frames(data, junk, cut):
    name = "k"
    raw = cachemod.seal(name, data)
    assert cachemod.unseal(name, raw) == data
    assert cachemod.unseal("other", raw) is None
    assert cachemod.unseal(name, junk) is None or junk == raw
    mangled = raw[:cut] + junk
    out = cachemod.unseal(name, mangled)
    assert out is None or mangled == cachemod.seal(name, out)
