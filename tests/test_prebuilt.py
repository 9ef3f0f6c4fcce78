"""PYBPF_PREBUILT: objects compiled ahead are served only while every file clang read
still hashes the same, only from a private root-owned directory, and compile() uses them
without running clang."""

from __future__ import annotations

import os

import pytest

from pybpf import prebuilt, toolchain
from pybpf.cache import Cache
from pybpf.errors import CompileError

SRC = """#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "value.h"
SEC("socket") int prog(void *ctx) { return VALUE; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture
def tree(tmp_path):
    try:
        toolchain.find_clang()
    except CompileError as e:
        pytest.fail(str(e))
    src = tmp_path / "src"
    src.mkdir()
    (src / "value.h").write_text("#define VALUE 7\n")
    (src / "p.bpf.c").write_text(SRC)
    pre = tmp_path / "pre"
    cache = Cache(tmp_path / "cache" / "pybpf")
    assert prebuilt.build(str(pre), [str(src / "p.bpf.c")], cache=cache) == 1
    return src, pre, cache


def _args(path):
    return toolchain._clang_args(toolchain.host_arch(), (), (), str(path), None)


def test_lookup_serves_the_compiled_object(tree):
    src, pre, cache = tree
    path = src / "p.bpf.c"
    obj = prebuilt.lookup(str(pre), path.read_bytes(), str(path), _args(path))
    assert obj == toolchain.compile(str(path), cache=cache)
    # the same compile with the source's folder named again as an include (bundled objects)
    args = toolchain._clang_args(toolchain.host_arch(), (), [str(src)], str(path), None)
    assert prebuilt.lookup(str(pre), path.read_bytes(), str(path), args) == obj


def test_an_edited_header_or_source_misses(tree):
    src, pre, _ = tree
    path = src / "p.bpf.c"
    (src / "value.h").write_text("#define VALUE 8\n")
    assert prebuilt.lookup(str(pre), path.read_bytes(), str(path), _args(path)) is None
    (src / "value.h").write_text("#define VALUE 7\n")
    assert prebuilt.lookup(str(pre), path.read_bytes(), str(path), _args(path)) is not None
    edited = path.read_bytes() + b"\n"
    assert prebuilt.lookup(str(pre), edited, str(path), _args(path)) is None
    flags = toolchain._clang_args(toolchain.host_arch(), ["-DX"], (), str(path), None)
    assert prebuilt.lookup(str(pre), path.read_bytes(), str(path), flags) is None


def test_a_directory_open_to_others_is_not_trusted(tree):
    src, pre, _ = tree
    path = src / "p.bpf.c"
    os.chmod(pre, 0o755)
    assert prebuilt.lookup(str(pre), path.read_bytes(), str(path), _args(path)) is None
    os.chmod(pre, 0o700)
    os.chown(pre, 65534, 65534)             # someone else's directory
    assert prebuilt.lookup(str(pre), path.read_bytes(), str(path), _args(path)) is None
    os.chown(pre, os.geteuid(), os.getegid())
    assert prebuilt.lookup(str(pre), path.read_bytes(), str(path), _args(path)) is not None


def test_compile_uses_it_without_clang(tree, monkeypatch):
    src, pre, cache = tree
    path = str(src / "p.bpf.c")
    want = toolchain.compile(path, cache=cache)
    monkeypatch.setenv("PYBPF_PREBUILT", str(pre))
    monkeypatch.setattr(toolchain, "find_clang", lambda *a: pytest.fail("clang looked up"))
    assert toolchain.compile(path, cache=None) == want
