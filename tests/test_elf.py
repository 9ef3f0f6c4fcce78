"""pybpf.elf: the minimal ELF64 reader, checked against pyelftools and fuzzed."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf import elf as E
from pybpf.errors import ELFError
from tests.corpus import build

SH_TYPES = {"SHT_NULL": 0, "SHT_PROGBITS": 1, "SHT_SYMTAB": 2, "SHT_STRTAB": 3, "SHT_RELA": 4,
            "SHT_NOBITS": 8, "SHT_REL": 9}
BINDS = {"STB_LOCAL": 0, "STB_GLOBAL": 1, "STB_WEAK": 2}
TYPES = {"STT_NOTYPE": 0, "STT_OBJECT": 1, "STT_FUNC": 2, "STT_SECTION": 3, "STT_FILE": 4}

pytestmark = pytest.mark.skipif(build.why_not() is not None, reason=str(build.why_not()))


@pytest.fixture(scope="module")
def objs(corpus_objs):
    return corpus_objs


@pytest.fixture(scope="module")
def blobs(objs):
    return {k: p.read_bytes() for k, p in objs.items()}


def test_matches_pyelftools(blobs):
    from elftools.elf.elffile import ELFFile as Ref
    from elftools.elf.relocation import RelocationSection
    for name, data in blobs.items():
        mine = E.ELFFile(data)
        ref = Ref(io.BytesIO(data))
        assert len(mine.sections) == ref.num_sections(), name
        for s, r in zip(mine.sections, ref.iter_sections()):
            assert s.name == r.name
            rtype = r["sh_type"]
            rtype = rtype if isinstance(rtype, int) else SH_TYPES.get(rtype, s.type)
            assert (s.type, s.flags, s.size, s.link, s.info, s.entsize) == (
                rtype, r["sh_flags"], r["sh_size"], r["sh_link"], r["sh_info"],
                r["sh_entsize"])
            if s.type != E.SHT_NOBITS:
                assert s.data == r.data()
            if isinstance(r, RelocationSection):
                rels = mine.relocations(s)
                assert [(x.offset, x.symbol, x.type) for x in rels] == [
                    (y["r_offset"], y["r_info_sym"], y["r_info_type"])
                    for y in r.iter_relocations()]
        symtab = ref.get_section_by_name(".symtab")
        assert len(mine.symbols) == symtab.num_symbols()
        for y, r in zip(mine.symbols, symtab.iter_symbols()):
            assert y.name == r.name
            assert (y.value, y.size) == (r["st_value"], r["st_size"])
            assert y.bind == BINDS[r["st_info"]["bind"]]
            assert y.type == TYPES[r["st_info"]["type"]]
            shndx = r["st_shndx"]
            if isinstance(shndx, int):
                assert y.shndx == shndx
            else:
                assert y.shndx in (E.SHN_UNDEF, E.SHN_ABS, E.SHN_COMMON)


def test_lookups(blobs):
    f = E.ELFFile(blobs["tracepoint"])
    assert f.machine == E.EM_BPF and f.type == 1
    text = f.section(".text")
    assert text is not None and text.flags & E.SHF_EXECINSTR
    assert f.section("nope") is None
    bss = f.section(".bss")
    assert bss.type == E.SHT_NOBITS and bss.data == b"" and bss.size == 24
    names = {y.name: y for y in f.symbols}
    assert names["handle_execve"].type == E.STT_FUNC
    assert names["handle_execve"].bind == E.STB_GLOBAL
    assert names["mix"].bind == E.STB_LOCAL
    assert names["hits"].type == E.STT_OBJECT
    rels = f.relocation_sections()
    prog = f.section("tracepoint/syscalls/sys_enter_execve")
    assert rels[prog.index].name == ".reltracepoint/syscalls/sys_enter_execve"
    with pytest.raises(ELFError):
        f.section_at(10_000)
    with pytest.raises(ELFError):
        f.symbol(-1)
    with pytest.raises(ELFError):
        f.relocations(text)


def test_from_file(objs):
    f = E.ELFFile.from_file(objs["xdp"])
    assert f.section(".maps") is not None


def _header(data: bytes, **changes) -> bytes:
    fields = list(E._EHDR.unpack_from(data))
    order = ["ident", "type", "machine", "version", "entry", "phoff", "shoff", "flags",
             "ehsize", "phentsize", "phnum", "shentsize", "shnum", "shstrndx"]
    for k, v in changes.items():
        fields[order.index(k)] = v
    return E._EHDR.pack(*fields) + data[E._EHDR.size:]


@pytest.mark.parametrize("change,msg", [
    (dict(machine=62), "EM_BPF"),
    (dict(ident=b"\x7fELF\x01\x01\x01" + bytes(9)), "64-bit"),
    (dict(ident=b"\x7fELF\x02\x02\x01" + bytes(9)), "little-endian"),
    (dict(ident=b"\x7fELX\x02\x01\x01" + bytes(9)), "magic"),
    (dict(shoff=1 << 40), "outside file"),
    (dict(shentsize=32), "header size"),
    (dict(shstrndx=5000), "out of range"),
])
def test_bad_headers(blobs, change, msg):
    with pytest.raises(ELFError, match=msg):
        E.ELFFile(_header(blobs["kprobe"], **change))


def test_machine_check_optional(blobs):
    f = E.ELFFile(_header(blobs["kprobe"], machine=62), machine=None)
    assert f.machine == 62


@pytest.mark.parametrize("n", [0, 1, 16, 63, 64, 100, 1000])
def test_truncated(blobs, n):
    data = blobs["tracepoint"]
    with pytest.raises(ELFError):
        E.ELFFile(data[:n])
    with pytest.raises(ELFError):
        E.ELFFile(data[:len(data) - 1 - n])   # the section header table sits at the end


def test_bad_section_offset(blobs):
    data = bytearray(blobs["tracepoint"])
    shoff = E._EHDR.unpack_from(data)[6]
    off = shoff + 2 * E._SHDR.size + 24          # sh_offset of section 2
    struct.pack_into("<Q", data, off, len(data) + 1)
    with pytest.raises(ELFError, match="outside file"):
        E.ELFFile(bytes(data))


def test_bad_symbol_name(blobs):
    data = bytearray(blobs["tracepoint"])
    f = E.ELFFile(bytes(data))
    symtab = next(s for s in f.sections if s.type == E.SHT_SYMTAB)
    struct.pack_into("<I", data, symtab.offset + 24, 1 << 30)   # symbol 1's name offset
    with pytest.raises(ELFError, match="string"):
        E.ELFFile(bytes(data))


def test_extended_section_count(blobs):
    data = bytearray(blobs["perf_event"])
    f = E.ELFFile(bytes(data))
    shoff = E._EHDR.unpack_from(data)[6]
    struct.pack_into("<Q", data, shoff + 32, len(f.sections))   # sh_size of header 0
    struct.pack_into("<I", data, shoff + 40, f.section(".strtab").index)  # its sh_link
    data = _header(bytes(data), shnum=0, shstrndx=E.SHN_XINDEX)
    g = E.ELFFile(data)
    assert [s.name for s in g.sections] == [s.name for s in f.sections]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fuzz_mutations(blobs, data):
    base = bytearray(blobs[data.draw(st.sampled_from(sorted(blobs)))])
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(base) - 1))
        if data.draw(st.booleans()):
            # bias mutations towards the headers, where structure lives
            shoff = int.from_bytes(base[40:48], "little")
            pos = data.draw(st.sampled_from([pos % 64, min(len(base) - 1, shoff + pos % 2048)]))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    blob = bytes(base[:cut]) if data.draw(st.booleans()) else bytes(base)
    try:
        f = E.ELFFile(blob)
        for s in f.sections:
            if s.type in (E.SHT_REL, E.SHT_RELA):
                f.relocations(s)
    except ELFError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_random_bytes(raw):
    blob = b"\x7fELF\x02\x01\x01" + raw
    try:
        E.ELFFile(blob)
    except ELFError:
        pass
