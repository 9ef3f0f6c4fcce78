"""Load plans: the second load of the same object bytes replays the cached kernel-side
recipe.  It must load the same programs, honour ``variables=``, ``maps=`` and pinning,
attach by section, and fall back to the full path (with its errors) when replaying fails."""

from __future__ import annotations

import os
import subprocess

import pytest

import pybpf
from pybpf import errors
from pybpf.object import plan

SRC = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 limit = 4;
const volatile int target_tgid = 0;
__u64 hits = 0;
__u64 table[8];

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} pt_plan_count SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int pt_plan_tp(void *ctx)
{
    __u32 k = 0, i = bpf_get_prandom_u32();
    __u64 *v;

    if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
        return 0;
    v = bpf_map_lookup_elem(&pt_plan_count, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
    hits += 1;
    /* with limit <= 8 the verifier proves the index in bounds: a bigger constant must be
       rejected, which is how the tests make a replay fail */
    if (i < limit)
        table[i] += 1;
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A fresh cache, so the first load records and the second replays."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYBPF_NO_PLAN", raising=False)
    return tmp_path / "cache" / "pybpf"


def _plan_path(private_cache, obj_bytes):
    """Where the plan of ``obj_bytes`` is stored (records are keyed on pybpf's code too)."""
    from pathlib import Path
    from pybpf.cache import Cache, record_key
    return Path(Cache(private_cache).path_for(record_key(plan.key(obj_bytes, "pt_plan"))))


@pytest.fixture(scope="module")
def obj_bytes():
    return pybpf.compile(SRC)


def _count(obj) -> int:
    return int.from_bytes(obj.maps["pt_plan_count"].lookup_raw((0).to_bytes(4, "little")),
                          "little")


@pytest.mark.kernel
def test_second_load_replays_the_same_programs(private_cache, obj_bytes):
    from tests.test_object_load import _normalize        # map ids blanked
    with pybpf.load(obj_bytes, name="pt_plan") as first:
        assert first._plan is None                 # recorded, not replayed
        ref = {n: _normalize(p.xlated()) for n, p in first.programs.items()}
        ref_maps = {n: (m.type, m.key_size, m.value_size, m.max_entries, m.name)
                    for n, m in first.maps.items()}
    with pybpf.load(obj_bytes, name="pt_plan") as second:
        assert second._plan is not None
        assert set(second.programs) == set(ref)
        for n, p in second.programs.items():
            assert _normalize(p.xlated()) == ref[n]
        assert {n: (m.type, m.key_size, m.value_size, m.max_entries, m.name)
                for n, m in second.maps.items()} == ref_maps


@pytest.mark.kernel
def test_replay_sets_variables_attaches_and_fires(private_cache, obj_bytes):
    pybpf.load(obj_bytes, name="pt_plan").close()
    with pybpf.load(obj_bytes, name="pt_plan", variables={"target_tgid": os.getpid()}) as obj:
        assert obj._plan is not None
        assert int.from_bytes(obj.global_value("target_tgid"), "little") == os.getpid()
        assert len(obj.attach()) == 1
        for _ in range(5):
            os.getppid()
        assert _count(obj) == 5
        obj.set_global("hits", 100)
        os.getppid()
        assert int.from_bytes(obj.global_value("hits"), "little") == 101


@pytest.mark.kernel
def test_unknown_variable_is_a_key_error_on_both_paths(private_cache, obj_bytes):
    for _ in range(2):
        with pytest.raises(KeyError, match="no_such_var"):
            pybpf.load(obj_bytes, name="pt_plan", variables={"no_such_var": 1})
        pybpf.load(obj_bytes, name="pt_plan").close()


@pytest.mark.kernel
def test_replay_reuses_maps_given_by_the_caller(private_cache, obj_bytes):
    pybpf.load(obj_bytes, name="pt_plan").close()
    with pybpf.Map.create(pybpf.MapSpec("pt_plan_mine", 2, 4, 8, 1)) as mine:
        with pybpf.load(obj_bytes, name="pt_plan", maps={"pt_plan_count": mine},
                        variables={"target_tgid": os.getpid()}) as obj:
            assert obj._plan is not None
            assert obj.maps["pt_plan_count"].id == mine.id
            obj.attach()
            os.getppid()
        assert int.from_bytes(mine.lookup_raw((0).to_bytes(4, "little")), "little") == 1


@pytest.mark.kernel
def test_a_failing_replay_falls_back_to_the_full_path_and_its_error(private_cache,
                                                                      obj_bytes):
    pybpf.load(obj_bytes, name="pt_plan").close()
    with pytest.raises(errors.VerifierError) as ei:
        pybpf.load(obj_bytes, name="pt_plan", variables={"limit": 1 << 20})
    # the full path's error: with the C line from BTF line info
    assert "table[i]" in str(ei.value) or ei.value.source_line


@pytest.mark.kernel
def test_a_corrupt_plan_is_ignored(private_cache, obj_bytes):
    pybpf.load(obj_bytes, name="pt_plan").close()
    path = _plan_path(private_cache, obj_bytes)
    assert path.exists()
    path.write_bytes(b"\x00garbage")
    with pybpf.load(obj_bytes, name="pt_plan") as obj:
        assert obj._plan is None
        assert obj.programs


@pytest.mark.kernel
def test_no_plan_when_disabled_or_given_a_spec(private_cache, obj_bytes, monkeypatch):
    spec = pybpf.ObjectSpec.from_bytes(obj_bytes, name="pt_plan")
    for _ in range(2):
        with pybpf.load(spec) as obj:
            assert obj._plan is None
    monkeypatch.setenv("PYBPF_NO_PLAN", "1")
    for _ in range(2):
        with pybpf.load(obj_bytes, name="pt_plan") as obj:
            assert obj._plan is None


@pytest.mark.kernel
def test_plan_cache_entries_are_private(private_cache, obj_bytes):
    pybpf.load(obj_bytes, name="pt_plan").close()
    st = os.stat(_plan_path(private_cache, obj_bytes))
    assert st.st_mode & 0o077 == 0 and st.st_uid == os.geteuid()


@pytest.mark.kernel
def test_a_warm_start_imports_no_parser(private_cache, obj_bytes, tmp_path):
    """The point of plans: a replay needs neither the ELF/BTF parsers nor CO-RE."""
    path = tmp_path / "o.bpf.o"
    path.write_bytes(obj_bytes)
    pybpf.load(path).close()
    code = ("import sys, pybpf\n"
            f"o = pybpf.load({str(path)!r})\n"
            "assert o._plan is not None\n"
            "bad = [m for m in ('pybpf.elf', 'pybpf.btf.types', 'pybpf.object.spec',"
            " 'pybpf.object.core', 'dataclasses', 'typing') if m in sys.modules]\n"
            "o.close()\n"
            "print(bad)\n")
    r = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "XDG_CACHE_HOME": str(private_cache.parent)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# -- pure parts ------------------------------------------------------------------------------

def _ld64(src: int, imm: int, imm2: int = 0) -> bytes:
    return bytes([0x18, src << 4, 0, 0]) + imm.to_bytes(4, "little", signed=True) + \
        bytes(4) + imm2.to_bytes(4, "little", signed=True)


def test_fd_relocations_and_patching_round_trip():
    exit_ = bytes([0x95, 0, 0, 0, 0, 0, 0, 0])
    insns = _ld64(1, 7) + exit_ + _ld64(2, 9) + _ld64(0, 7) + exit_
    relos = plan.fd_relocations(insns, {7: "a", 9: "b"})
    assert relos == [(4, "a"), (28, "b")]          # the plain constant 7 is left alone
    out = plan.patch_fds(insns, relos, {"a": 40, "b": 41}.__getitem__)
    assert plan.fd_relocations(out, {40: "a", 41: "b"}) == relos
    assert out[44:48] == insns[44:48]


def test_unnameable_fds_make_no_plan():
    assert plan.fd_relocations(_ld64(1, 5), {}) is None          # fd of no known map
    assert plan.fd_relocations(_ld64(3, 100, 12), {}) is None    # module BTF fd
    assert plan.fd_relocations(_ld64(3, 100, 0), {}) == []       # vmlinux BTF id: fine


@pytest.mark.kernel
def test_a_damaged_plan_of_the_right_version_falls_back(private_cache, obj_bytes):
    from pybpf.cache import get_record, put_record
    pybpf.load(obj_bytes, name="pt_plan").close()
    k = plan.key(obj_bytes, "pt_plan")
    p = get_record(k)
    del p["progs"][0]["insns"]
    put_record(k, p)
    with pybpf.load(obj_bytes, name="pt_plan") as obj:
        assert obj._plan is None and "pt_plan_tp" in obj.programs


@pytest.mark.kernel
def test_sections_override_the_program_type_on_both_paths(private_cache, obj_bytes):
    from pybpf._sys.uapi import ProgType
    for warm in (False, True):
        with pybpf.load(obj_bytes, name="pt_plan",
                        sections={"pt_plan_tp": "raw_tp/sys_enter"}) as obj:
            assert (obj._plan is not None) == warm
            assert obj.programs["pt_plan_tp"].info().type == ProgType.RAW_TRACEPOINT
    with pytest.raises(KeyError, match="nope"):
        pybpf.load(obj_bytes, name="pt_plan", sections={"nope": "xdp"})


@pytest.mark.kernel
def test_max_entries_sizes_a_map_on_both_paths_and_the_plan_keeps_the_objects(
        private_cache, obj_bytes):
    """``max_entries=`` (libbpf's bpf_map__set_max_entries) on the cold load (which
    records the plan) and on a replay; a later load without it gets the object's size."""
    key3 = (3).to_bytes(4, "little")
    for replayed in (False, True):
        with pybpf.load(obj_bytes, name="pt_plan", max_entries={"pt_plan_count": 4},
                        variables={"target_tgid": os.getpid()}) as obj:
            assert (obj._plan is not None) == replayed
            m = obj.maps["pt_plan_count"]
            assert m.max_entries == 4
            assert m.lookup_raw(key3) == bytes(8)     # the kernel's array has index 3
            obj.attach()
            os.getppid()
            assert _count(obj) == 1
    with pybpf.load(obj_bytes, name="pt_plan") as obj:
        assert obj._plan is not None and obj.maps["pt_plan_count"].max_entries == 1
        assert obj.maps["pt_plan_count"].lookup_raw(key3) is None


@pytest.mark.kernel
def test_map_flags_on_both_paths_and_the_plan_keeps_the_objects(private_cache, obj_bytes):
    """``map_flags=`` (libbpf's bpf_map__set_map_flags) on the cold load and on a replay,
    as the kernel reports them; a later load without it gets the object's flags; a
    misspelt map name is an error, not a map left as it was."""
    from pybpf.info import map_info
    mmapable = 1 << 10                          # BPF_F_MMAPABLE: valid for an array
    for replayed in (False, True):
        with pybpf.load(obj_bytes, name="pt_plan", map_flags={"pt_plan_count": mmapable},
                        variables={"target_tgid": os.getpid()}) as obj:
            assert (obj._plan is not None) == replayed
            assert map_info(obj.maps["pt_plan_count"].fileno()).flags == mmapable
            obj.attach()
            os.getppid()
            assert _count(obj) == 1
    with pybpf.load(obj_bytes, name="pt_plan") as obj:
        assert obj._plan is not None and \
            map_info(obj.maps["pt_plan_count"].fileno()).flags == 0
    with pytest.raises(KeyError, match="map_flags: no map 'pt_plan_cnt'"):
        pybpf.load(obj_bytes, name="pt_plan", map_flags={"pt_plan_cnt": mmapable})


@pytest.mark.kernel
def test_max_entries_names_only_the_objects_maps(private_cache, obj_bytes):
    """A misspelt map name is an error on both paths, not a map left at its size."""
    for _ in range(2):                          # the cold load, then a replay
        with pytest.raises(KeyError, match="max_entries: no map 'pt_plan_cnt'"):
            pybpf.load(obj_bytes, name="pt_plan", max_entries={"pt_plan_cnt": 4})
        with pybpf.load(obj_bytes, name="pt_plan"):
            pass


@pytest.mark.kernel
def test_autocreate_leaves_a_map_out_on_both_paths(private_cache, obj_bytes):
    """``autocreate=`` (libbpf's bpf_map__set_autocreate): a map only left-out programs use
    is not created, cold or replayed; a later load without it creates the map again."""
    for replayed in (False, True):
        with pybpf.load(obj_bytes, name="pt_plan", programs=[],
                        autocreate={"pt_plan_count": False}) as obj:
            assert (obj._plan is not None) == replayed
            assert "pt_plan_count" not in obj.maps and obj.programs == {}
            assert any(n.endswith(".rodata") for n in obj.maps)
    with pybpf.load(obj_bytes, name="pt_plan", programs=[]) as obj:
        assert "pt_plan_count" in obj.maps
    with pytest.raises(KeyError, match="autocreate: no map 'pt_plan_cnt'"):
        pybpf.load(obj_bytes, name="pt_plan", autocreate={"pt_plan_cnt": False})
