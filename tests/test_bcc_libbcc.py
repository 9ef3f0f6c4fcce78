"""Root-free parts of bcc's build-id stacks and of the ``bcc.libbcc`` shim: frames decoded
from raw stack-map values, named through a file indexed by its build id (libc's own),
``bcc_resolve_symname`` on libc as libbcc answers it, ``bpf_table_fd``."""

from __future__ import annotations

import ctypes as ct
import struct

import pytest

from pybpf.bcc import libbcc, stackbuildid
from pybpf.bcc.libbcc import lib
from pybpf.bcc.run import BccFinder
from pybpf.links import symbols
from pybpf.syms import buildid
from pybpf.syms.elfsyms import ElfSymbols

LIBC = symbols.resolve_path("c")


@pytest.fixture(scope="module")
def libc():
    elf = ElfSymbols(LIBC)
    assert elf.build_id, "Debian's libc carries a GNU build id"
    return elf


def _file_offset(elf, name: str) -> int:
    vaddr = elf.address(name)
    for v, memsz, off, _ in elf.segments:
        if v <= vaddr < v + memsz:
            return vaddr - v + off
    raise AssertionError(name)


def _raw(*frames) -> bytes:
    """A stack-map value: frames then empty ones, as the kernel fills it."""
    out = b"".join(buildid.FRAME.pack(*f) for f in frames)
    return out + bytes(buildid.FRAME.size * 3)


def test_frames_stop_at_the_first_empty_one():
    bid = bytes(range(20))
    raw = _raw((buildid.VALID, bid, 0x10), (buildid.IP, bytes(20), 0x7f00)) + \
        buildid.FRAME.pack(buildid.VALID, bid, 0x20)
    assert list(buildid.frames(raw)) == [(1, bid, 0x10), (2, bytes(20), 0x7f00)]
    assert list(buildid.frames(b"")) == []
    assert list(buildid.frames(b"\x01\x00")) == []      # shorter than a frame


def test_index_names_a_libc_offset(libc):
    idx = buildid.BuildIdIndex([libc])
    off = _file_offset(libc, "write")
    name, within, path = idx.resolve(bytes.fromhex(libc.build_id), off + 4)
    assert within == 4 and path == LIBC
    assert libc.lookup(libc.address("write"))[0] == name
    assert idx.format(bytes.fromhex(libc.build_id), off) == f"{name}+0x0 [libc.so.6]"
    assert idx.resolve(bytes(20), off) is None
    assert "build-id 0000" in idx.format(bytes(20), 5)


def test_walk_and_sym_of_build_id_frames(libc):
    class Owner:            # what statics.either passes: an object with sym() and _bsyms
        def sym(self, addr, pid, show_module=False, show_offset=False):
            return b"by-address:%x" % addr

    o = Owner()
    assert stackbuildid.add_module(o, LIBC.encode())
    off = _file_offset(libc, "write")
    bid = bytes.fromhex(libc.build_id)
    got = list(stackbuildid.walk(_raw((buildid.VALID, bid, off), (buildid.IP, bytes(20),
                                                                    0x1234))))
    assert [type(f).__name__ for f in got] == ["bpf_stack_build_id"] * 2
    assert got[0].status == 1 and bytes(got[0].build_id) == bid and got[0].offset == off
    name = libc.lookup(libc.address("write"))[0].encode()
    assert stackbuildid.sym(o, got[0], 1, False, False) == name
    assert stackbuildid.sym(o, got[0], 1, True, True) == name + b"+0x0 [libc.so.6]"
    assert stackbuildid.sym(o, got[1], 1, False, False) == b"by-address:1234"
    unknown = stackbuildid.bpf_stack_build_id(status=1)
    assert stackbuildid.sym(o, unknown, 1, True, True) == b"[unknown]"


def test_add_module_of_a_missing_file_is_one_line(capsys):
    class Owner:
        pass
    assert stackbuildid.add_module(Owner(), "/nonexistent/ping") is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/nonexistent/ping" in err


def test_resolve_symname_finds_an_ifunc_only_when_asked_for_one(libc):
    sym, opt = libbcc.bcc_symbol(), libbcc.bcc_symbol_option()
    opt.use_symbol_type = 1 << libbcc.STT_GNU_IFUNC
    lib = libbcc.Lib()
    assert lib.bcc_resolve_symname(b"c", b"strlen", 0, 0, ct.byref(opt), ct.byref(sym)) == 0
    assert ct.cast(sym.module, ct.c_char_p).value == LIBC.encode()
    assert sym.offset == _file_offset(libc, "strlen") and sym.name == b"strlen"
    assert lib.ifunc_resolver(LIBC, "strlen") == sym.offset
    # write is a plain function: not found as an IFUNC, found with the default types
    assert lib.bcc_resolve_symname(b"c", b"write", 0, 0, ct.byref(opt), ct.byref(sym)) < 0
    assert lib.ifunc_resolver(LIBC, "write") is None
    assert lib.bcc_resolve_symname(b"c", b"write", 0, 0, None, ct.byref(sym)) == 0
    assert sym.offset == _file_offset(libc, "write")
    assert lib.bcc_resolve_symname(b"c", b"no_such_fn", 0, 0, None, ct.byref(sym)) < 0
    assert lib.bcc_resolve_symname(b"/nonexistent", b"x", 0, 0, None, ct.byref(sym)) < 0


def test_resolve_symname_by_address_gives_the_file_offset(libc):
    sym = libbcc.bcc_symbol()
    vaddr = libc.address("write")
    assert libbcc.lib.bcc_resolve_symname(b"c", None, vaddr, 0, None, ct.byref(sym)) == 0
    assert sym.offset == _file_offset(libc, "write") and sym.name is None


def test_bpf_table_fd_and_missing_functions():
    class Table:
        map_fd = 42

    class FakeBPF:
        def get_table(self, name):
            if name != "sock_hash":
                raise KeyError(name)
            return Table()

    assert libbcc.lib.bpf_table_fd(FakeBPF(), b"sock_hash") == 42
    assert libbcc.lib.bpf_table_fd(FakeBPF(), b"other") == -1
    assert not hasattr(libbcc.lib, "bcc_usdt_new_frompid")
    with pytest.raises(libbcc.NotOffered, match="bcc_usdt_new_frompid"):
        libbcc.lib.bcc_usdt_new_frompid(1, None)
    assert struct.calcsize("<i20sQ") == ct.sizeof(stackbuildid.bpf_stack_build_id) == 32


class FakeTable:
    map_fd = 42


class FakeBPF:
    _entry = {"programs": {"prog_a": None, "prog_b": None}}

    def __iter__(self):
        return iter(["counts", "events"])

    def __len__(self):
        return 2

    def get_table(self, name):
        if name != "counts":
            raise KeyError(name)
        return FakeTable()


def test_table_and_function_calls():
    m = FakeBPF()
    assert lib.bpf_table_fd(m, b"counts") == 42
    assert lib.bpf_table_fd(m, b"missing") == -1
    assert lib.bpf_num_tables(m) == 2
    assert lib.bpf_table_id(m, b"events") == 1 and lib.bpf_table_id(m, "x") == -1
    assert lib.bpf_table_name(m, 0) == b"counts" and lib.bpf_table_name(m, 5) is None
    assert lib.bpf_num_functions(m) == 2
    assert lib.bpf_function_name(m, 1) == b"prog_b"


def test_other_names_fail_in_one_line_naming_what_exists():
    with pytest.raises(libbcc.NotOffered) as e:
        lib.bpf_attach_uprobe
    assert "bpf_table_fd" in str(e.value) and "\n" not in str(e.value)


def test_bcc_lib_and_attach_types_import_under_pybpf_run():
    import sys
    finder = BccFinder()
    sys.meta_path.insert(0, finder)
    try:
        sys.modules.pop("bcc", None)
        from bcc import BPFAttachType, lib as bcc_lib      # sockmap.py's import
        assert bcc_lib is lib
        assert int(BPFAttachType.CGROUP_SOCK_OPS) == 3
        assert int(BPFAttachType.SK_MSG_VERDICT) == 7
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop("bcc", None)
