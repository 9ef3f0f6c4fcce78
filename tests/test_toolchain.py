"""The clang driver: compiles, cache hits without clang, invalidation, errors."""

from __future__ import annotations

import importlib
import os
import subprocess
import time

import pytest

from pybpf.cache import Cache, CacheError
from pybpf.elf import ELFFile
from pybpf.errors import CompileError

cc = importlib.import_module("pybpf.toolchain")

TRIVIAL = """#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("socket") int prog(void *ctx) { return VALUE; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    try:
        cc.find_clang()
    except CompileError as e:
        pytest.skip(str(e))
    return Cache(tmp_path_factory.mktemp("cache") / "pybpf")


class _NoClang:
    """Stands in for subprocess.run and fails the test if anything is run."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv, *a, **kw):
        self.calls.append(argv)
        raise AssertionError(f"ran {argv[0]} on a cache hit")


def test_trivial_program(cache):
    obj = cc.compile(TRIVIAL, cflags=["-DVALUE=1"], cache=cache)
    elf = ELFFile(obj)
    assert elf.section("socket") is not None and elf.section(".BTF") is not None


def test_cache_hit_runs_no_clang(cache, monkeypatch):
    first = cc.compile(TRIVIAL, cflags=["-DVALUE=2"], cache=cache)
    spy = _NoClang()
    monkeypatch.setattr(subprocess, "run", spy)
    monkeypatch.setattr(subprocess, "Popen", spy)
    t = time.perf_counter()
    again = cc.compile(TRIVIAL, cflags=["-DVALUE=2"], cache=cache)
    took = time.perf_counter() - t
    assert again == first and spy.calls == []
    assert took < 0.1, f"cache hit took {took * 1000:.1f} ms"


def test_clang_version_is_remembered(cache, monkeypatch):
    cc.compile(TRIVIAL, cflags=["-DVALUE=3"], cache=cache)
    real, seen = subprocess.Popen, []

    def popen(argv, *a, **kw):      # subprocess.run goes through Popen too
        seen.append(argv)
        return real(argv, *a, **kw)
    monkeypatch.setattr(subprocess, "Popen", popen)
    cc.compile(TRIVIAL, cflags=["-DVALUE=4"], cache=cache)  # a miss: one clang run
    assert len(seen) == 1 and "--version" not in seen[0]


def test_vmlinux_h_is_used(cache):
    src = '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n' \
          'SEC("tp/sched/sched_switch") int p(struct trace_event_raw_sched_switch *c)' \
          '{ return c->prev_pid; }\nchar LICENSE[] SEC("license") = "GPL";\n'
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        pytest.skip("no kernel BTF")
    assert ELFFile(cc.compile(src, cache=cache)).section("tp/sched/sched_switch")


def test_edited_header_invalidates(cache, tmp_path, monkeypatch):
    inc = tmp_path / "inc"
    inc.mkdir()
    hdr = inc / "value.h"
    hdr.write_text("#define VALUE 11\n")
    src = '#include "value.h"\n' + TRIVIAL
    a = cc.compile(src, includes=[inc], cache=cache)
    # touched but unchanged: still a hit (contents are re-hashed, clang is not run)
    os.utime(hdr, ns=(1, 1))
    spy = _NoClang()
    monkeypatch.setattr(subprocess, "run", spy)
    monkeypatch.setattr(subprocess, "Popen", spy)
    assert cc.compile(src, includes=[inc], cache=cache) == a
    monkeypatch.undo()
    hdr.write_text("#define VALUE 12\n")
    b = cc.compile(src, includes=[inc], cache=cache)
    assert a != b
    sec = ELFFile(b).section("socket").data
    assert sec[4:8] == (12).to_bytes(4, "little")  # r0 = 12


def test_compile_from_path_and_compile_file(cache, tmp_path):
    (tmp_path / "v.h").write_text("#define VALUE 5\n")
    src = tmp_path / "p.bpf.c"
    src.write_text('#include "v.h"\n' + TRIVIAL)
    obj = cc.compile(src, cache=cache)
    assert cc.compile(str(src), cache=cache) == obj
    out = cc.compile_file(src, tmp_path / "p.bpf.o", cache=cache)
    assert open(out, "rb").read() == obj


def test_compile_error_has_diagnostics(cache):
    with pytest.raises(CompileError) as ei:
        cc.compile("int f(void) { return undeclared_thing; }\n", cache=cache)
    e = ei.value
    assert "use of undeclared identifier 'undeclared_thing'" in str(e)
    assert "error:" in e.diagnostics and e.argv[0].endswith(os.path.basename(e.argv[0]))
    assert "-target" in e.argv and "bpf" in e.argv


def test_missing_clang_is_actionable(monkeypatch):
    monkeypatch.setenv("PYBPF_CLANG", "/nonexistent/clang-99")
    with pytest.raises(CompileError, match="apt-get install clang-19"):
        cc.find_clang()
    monkeypatch.delenv("PYBPF_CLANG")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(cc, "_SYSTEM_BIN", "/nonexistent")
    monkeypatch.setattr(cc, "_LLVM_ROOT", "/nonexistent")
    with pytest.raises(CompileError, match="apt-get install clang-19"):
        cc.find_clang()


def test_newest_clang_on_path(monkeypatch, tmp_path):
    for v in ("14", "99", "9"):
        p = tmp_path / f"clang-{v}"
        p.write_text("#!/bin/sh\n")
        p.chmod(0o755)
    monkeypatch.delenv("PYBPF_CLANG", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cc.find_clang() == str(tmp_path / "clang-99")


def test_clang_search_is_remembered_until_a_directory_changes(monkeypatch, tmp_path):
    """A warm start lists no directory; adding a newer clang-N is seen at once."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for v in ("14", "15"):
        p = bindir / f"clang-{v}"
        p.write_text("#!/bin/sh\n")
        p.chmod(0o755)
    monkeypatch.delenv("PYBPF_CLANG", raising=False)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(cc, "_SYSTEM_BIN", "/nonexistent")
    monkeypatch.setattr(cc, "_LLVM_ROOT", "/nonexistent")
    c = Cache(tmp_path / "c")
    assert cc.find_clang(c) == str(bindir / "clang-15")
    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda d: listed.append(d) or real_listdir(d))
    assert cc.find_clang(c) == str(bindir / "clang-15") and listed == []
    newer = bindir / "clang-99"
    newer.write_text("#!/bin/sh\n")
    newer.chmod(0o755)
    os.utime(bindir, ns=(1, time.time_ns() + 10**9))    # mtime granularity
    assert cc.find_clang(c) == str(newer)
    newer.chmod(0o777)                                  # now anybody may change it
    assert cc.find_clang(c) == str(bindir / "clang-15")


def test_insecure_cache_dir_is_refused(cache, tmp_path):
    c = Cache(tmp_path / "c")
    c.check()
    os.chmod(c.root, 0o777)
    with pytest.raises(CacheError, match="refusing"):
        cc.compile(TRIVIAL, cflags=["-DVALUE=1"], cache=c)


def test_parse_deps():
    text = "out.o: /a/b.c /x/with\\ space.h \\\n  /usr/include/y.h /d$$.h\n"
    assert cc._parse_deps(text) == ["/a/b.c", "/x/with space.h", "/usr/include/y.h",
                                    "/d$.h"]


def test_host_arch():
    assert cc.host_arch("x86_64") == "x86" and cc.host_arch("aarch64") == "arm64"
