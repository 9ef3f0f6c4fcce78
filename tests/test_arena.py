"""BPF arenas: ``__arena`` globals (``.addr_space.1``) bound to the object's arena map,
written before load, read and written through the arena's mapping (``obj.arena.x``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pybpf
from pybpf import errors
from pybpf.object import arena as A
from pybpf.object.spec import RelocKind

DATA = Path(__file__).parent / "data"
SRC = DATA / "arena_globals.bpf.c"
FIXED_AT = 1 << 44          # where libbpf's examples put their arenas (x86-64)


@pytest.fixture(scope="module")
def obj_bytes():
    return pybpf.compile(SRC)


# ---- pure: the spec ---------------------------------------------------------------------

def test_arena_globals_belong_to_the_arena_map(obj_bytes):
    spec = pybpf.ObjectSpec.from_bytes(obj_bytes, name="pt_arena")
    m = spec.maps["arena"]
    assert m.section == A.SECTION and sorted(m.variables) == ["counter", "pair", "tag"]
    assert spec.globals["counter"].section == "arena"
    assert m.variables["counter"].value == 7 and m.variables["tag"].value == "arena"
    m.set_var("counter", 40)
    assert bytes(m.data[:4]) == (40).to_bytes(4, "little")
    with pytest.raises(TypeError):
        m.set_var("counter", "x")
    relos = [r for r in spec.programs["count"].relocations if r.kind == RelocKind.DATA]
    assert {r.target for r in relos} == {"arena", ".bss"}
    assert {r.symbol for r in relos if r.target == "arena"} >= {"counter", "pair"}


def test_data_offset_follows_libbpf():
    class M:
        name, max_entries, data = "a", 4, bytearray(5000)
    # two pages of globals: at the end of a 4-page arena where the kernel takes any
    # ld_imm64 offset, else at its start
    assert A.data_offset(M, True) == 2 * A.PAGE
    assert A.data_offset(M, False) == 0
    M.max_entries = 1
    with pytest.raises(errors.ELFError, match="cannot hold"):
        A.data_offset(M, False)
    M.data = bytearray()
    assert A.data_offset(M, True) == 0


def test_globals_without_an_arena_map_are_refused_in_one_line():
    with pytest.raises(errors.ELFError, match="need an arena map") as ei:
        pybpf.ObjectSpec.from_bytes(pybpf.compile(DATA / "arena_orphan.bpf.c"))
    assert "\n" not in str(ei.value)


def test_two_arena_maps_are_refused():
    raw = pybpf.compile(SRC, cflags=["-DTWO_ARENAS"])
    with pytest.raises(errors.ELFError, match="one arena map per object"):
        pybpf.ObjectSpec.from_bytes(raw)


# ---- kernel ---------------------------------------------------------------------------

def _getppids(n: int) -> None:
    for _ in range(n):
        os.getppid()


@pytest.mark.kernel
@pytest.mark.parametrize("replay", [False, True])
def test_arena_globals_count_in_the_kernel(obj_bytes, replay, monkeypatch):
    if not replay:
        monkeypatch.setenv("PYBPF_NO_PLAN", "1")
    probes = []
    real_probe = A.full_range_offsets
    monkeypatch.setattr(A, "full_range_offsets", lambda: probes.append(1) or real_probe())
    for i in range(2 if replay else 1):        # the second load replays the plan
        del probes[:]
        with pybpf.load(obj_bytes, name="pt_arena", variables={"counter": 100}) as obj:
            # the second load replays (the first may too: a plan from an earlier run)
            assert (obj._plan is not None) == replay or (replay and i == 0)
            # a replay takes the globals' place from the plan: no probe of the verifier
            assert len(probes) == (0 if obj._plan is not None else 1)
            assert obj.arena.counter == 100 and obj.arena.tag == "arena"
            obj.bss.my_pid = os.getpid()
            obj.attach()
            _getppids(3)
            assert obj.bss.seen == 103 == obj.arena.counter
            assert (obj.arena.pair.calls, obj.arena.pair.last) == (3, -103)
            assert obj.global_value("counter") == (103).to_bytes(4, "little")
            obj.arena.counter = 5               # the program sees the write at once
            _getppids(1)
            assert obj.bss.seen == 6
            with pytest.raises(OverflowError):
                obj.arena.counter = 1 << 40
            assert sorted(obj.arena) == ["counter", "pair", "tag"]


@pytest.mark.kernel
def test_a_fixed_arena_address_is_where_it_is_mapped(monkeypatch):
    monkeypatch.setenv("PYBPF_NO_PLAN", "1")
    raw = pybpf.compile(SRC, cflags=[f"-DARENA_AT={FIXED_AT:#x}ULL"])
    with pybpf.load(raw, name="pt_arena_at") as obj:
        assert obj.maps["arena"].fileno() >= 0
        assert obj.arena_mapping.addr == FIXED_AT       # map_extra, not a kernel-chosen spot
        obj.bss.my_pid = os.getpid()
        obj.attach()
        _getppids(2)
        assert obj.arena.counter == 9
        # a second object cannot map its arena over the first one's: refused, not clobbered
        with pytest.raises(errors.PybpfError, match="map_extra"):
            pybpf.load(raw, name="pt_arena_at")
        assert obj.arena.counter == 9
    with pybpf.load(raw, name="pt_arena_at") as again:   # unmapped with the first object
        assert again.arena_mapping.addr == FIXED_AT


_CHILD = """
import sys
import pybpf
arena = pybpf.Map.from_pin(sys.argv[1])
with pybpf.load(open(sys.argv[2], "rb").read(), name="pt_arena_2nd",
                maps={"arena": arena}) as obj:
    print(obj.arena.counter, obj.arena.tag, obj.arena_mapping.addr == int(sys.argv[3]))
    obj.arena.counter = 50
arena.close()
"""


@pytest.mark.kernel
def test_a_reused_arena_keeps_its_creators_globals(monkeypatch, tmp_path):
    """As libbpf: an arena given in ``maps=`` (or found pinned) is not written again, and
    the programs of both objects count in the same globals.  Another process maps it at
    its fixed address and reads and writes those globals; in the creator's own process
    the address is taken, so ``obj.arena`` says why it is not mapped."""
    import subprocess
    import sys
    monkeypatch.setenv("PYBPF_NO_PLAN", "1")
    raw = pybpf.compile(SRC, cflags=[f"-DARENA_AT={FIXED_AT:#x}ULL"])
    pin = f"/sys/fs/bpf/pt_arena_{os.getpid()}"
    with pybpf.load(raw, name="pt_arena_at", variables={"counter": 20}) as first:
        first.bss.my_pid = os.getpid()
        first.attach()
        with pybpf.load(raw, name="pt_arena_at", variables={"counter": 99},
                        maps={"arena": first.maps["arena"]}) as second:
            assert first.arena.counter == 20           # not reset to the second's 99
            with pytest.raises(KeyError, match="reused .* not mapped here"):
                second.arena
            second.bss.my_pid = os.getpid()
            second.attach()
            _getppids(2)                                # each object's program counts
            assert first.arena.counter == 24
            # per call, both programs add one: the last call's two counts
            assert sorted((first.bss.seen, second.bss.seen)) == [23, 24]
        first.maps["arena"].pin(pin)
        try:
            obj_file = tmp_path / "arena.o"
            obj_file.write_bytes(raw)
            r = subprocess.run([sys.executable, "-c", _CHILD, pin, str(obj_file),
                                str(FIXED_AT)], capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, PYTHONPATH=str(Path(pybpf.__file__)
                                                                    .parent.parent)))
        finally:
            os.unlink(pin)
        assert (r.returncode, r.stdout.split()) == (0, ["24", "arena", "True"]), r.stderr
        assert first.arena.counter == 50                # the other process's write


@pytest.mark.kernel
def test_no_arena_means_no_arena_view():
    with pybpf.load(pybpf.compile(DATA / "typed_globals.bpf.c"), name="pt_typed") as obj:
        with pytest.raises(KeyError, match="no arena map"):
            obj.arena


@pytest.mark.kernel
def test_pages_a_program_allocates_are_in_our_mapping(obj_bytes):
    """bpf_arena_alloc_pages() hands the program user addresses of the arena: with the
    arena mapped before load they point into this process's mapping, list and all."""
    import struct
    with pybpf.load(obj_bytes, name="pt_arena") as obj:
        obj.data.nodes = 3
        assert obj.programs["build_list"].test_run().retval == 0
        m = obj.arena_mapping
        values, at = [], obj.bss.head
        while at:
            assert m.addr <= at < m.addr + m.length
            value, at = struct.unpack("<QQ", m.at(at, 16))
            values.append(value)
        assert values == [1002, 1001, 1000]
