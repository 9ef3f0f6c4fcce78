"""pybpf.syms.elfsyms: function symbols of real binaries, as pyelftools reads them; fuzzed."""

from __future__ import annotations

import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf import errors
from pybpf.syms.elfsyms import ElfSymbols, debug_file

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_BINARIES = [p for p in ("/bin/bash", "/usr/bin/python3", "/bin/ls")
                   if os.path.exists(p)]


def _pyelftools_functions(path: str) -> set[int]:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection
    out = set()
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if not isinstance(sec, SymbolTableSection):
                continue
            for s in sec.iter_symbols():
                if s["st_info"]["type"] in ("STT_FUNC", "STT_LOOS") and \
                        s["st_shndx"] != "SHN_UNDEF" and s["st_value"]:
                    out.add(s["st_value"])
    return out


def _libc() -> str:
    out = subprocess.run(["ldd", "/bin/sh"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "libc.so" in line and "=>" in line:
            return line.split("=>")[1].split()[0]
    pytest.fail("no libc found through ldd /bin/sh")


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> str:
    exe = str(tmp_path_factory.mktemp("syms") / "syms_target")
    subprocess.run(["gcc", "-g", "-O2", "-o", exe, os.path.join(HERE, "data",
                                                                 "syms_target.c")], check=True)
    return exe


@pytest.mark.parametrize("path", SYSTEM_BINARIES + ["libc"])
def test_same_function_addresses_as_pyelftools(path):
    path = _libc() if path == "libc" else path
    ours = ElfSymbols(path)
    assert set(ours.starts) == _pyelftools_functions(path)
    assert len(ours) > 0


def test_lookup_names_offsets_and_segments(target):
    b = ElfSymbols(target)
    start = b.address("pybpf_syms_plain")
    assert start is not None
    assert b.lookup(start) == ("pybpf_syms_plain", 0)
    assert b.lookup(start + 2) == ("pybpf_syms_plain", 2)
    assert b.has_symtab and b.pie
    assert b.build_id and len(b.build_id) == 40          # gcc's default sha1 build-id
    # the text segment maps file offsets to the addresses the symbols use
    off = next(foff for vaddr, _, foff, _ in b.segments if vaddr <= start < vaddr + _)
    seg = next(s for s in b.segments if s[0] <= start < s[0] + s[1])
    assert b.offset_to_vaddr(start - seg[0] + seg[2]) == start
    assert off == seg[2]


def test_outside_every_function_is_none(target):
    b = ElfSymbols(target)
    assert b.lookup(0) is None
    assert b.lookup(max(b.starts) + (1 << 20)) is None


def test_stripped_binary_keeps_dynamic_symbols(tmp_path, target):
    stripped = str(tmp_path / "stripped")
    subprocess.run(["strip", "-o", stripped, target], check=True)
    b = ElfSymbols(stripped)
    assert not b.has_symtab
    assert b.address("pybpf_syms_plain") is None         # static symbols went with .symtab
    assert debug_file(b) is None


def test_not_elf_and_truncated_give_elf_errors(tmp_path, target):
    with pytest.raises(errors.ELFError, match="not an ELF"):
        ElfSymbols("x", data=b"#!/bin/sh\n")
    with pytest.raises(errors.ELFError, match="cannot read"):
        ElfSymbols(str(tmp_path / "absent"))
    data = open(target, "rb").read()
    for cut in (20, 64, 200, len(data) // 2):
        try:
            ElfSymbols("cut", data=data[:cut])
        except errors.ELFError:
            pass


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=12),
       cut=st.one_of(st.none(), st.integers(0, 1 << 16)))
def test_mutated_binaries_give_only_elf_errors(target, flips, cut):
    data = bytearray(open(target, "rb").read())
    for pos, val in flips:
        data[pos % len(data)] = val
    if cut is not None:
        del data[cut:]
    try:
        b = ElfSymbols("mutated", data=bytes(data))
    except errors.ELFError:
        return
    b.lookup(0x1000)
    b.offset_to_vaddr(0x1000)
