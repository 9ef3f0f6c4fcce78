"""Every map type this kernel has: create, CRUD, iteration (batch and get-next-key), batch
update, per-CPU values, queue/stack/bloom, map-in-map, prog array, pin and reopen."""

from __future__ import annotations

import ctypes
import os
import struct

import pytest

from pybpf import errors
from pybpf._sys.uapi import MapFlag, MapType, ProgType, UpdateFlag
from pybpf.asm import Instructions, R0, exit_, mov64
from pybpf.maps import Map, MapSpec, possible_cpus
from pybpf.programs import Program, ProgramSpec

pytestmark = pytest.mark.kernel


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint32)]


HASHES = [MapType.HASH, MapType.LRU_HASH, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH]


@pytest.mark.parametrize("mtype", HASHES, ids=lambda t: t.name.lower())
def test_hash_family_crud_and_iteration(mtype):
    with Map.create(mtype, 8, 8, 64, name="pt_m_hash", key_type=Pair, value_type=int) as m:
        percpu = mtype in (MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH)
        for i in range(10):
            m[Pair(i, i + 1)] = i * 100
        assert len(m) == 10 and Pair(3, 4) in m and Pair(3, 5) not in m
        v = m[Pair(3, 4)]
        if percpu:
            assert v == [300] * possible_cpus()
        else:
            assert v == 300
        keys = sorted((k.a, k.b) for k in m.keys())
        assert keys == [(i, i + 1) for i in range(10)]
        batch = dict(((k.a, k.b), v) for k, v in m.items())
        walked = {(struct.unpack("<II", k)): m._value_out(m.lookup_raw(k)) for k in
                  m._raw_keys()}                      # the get-next-key path
        assert batch == walked
        del m[Pair(3, 4)]
        with pytest.raises(KeyError):
            m[Pair(3, 4)]
        with pytest.raises(KeyError):
            del m[Pair(3, 4)]
        if mtype == MapType.HASH:
            with pytest.raises(errors.KernelError):
                m.update(Pair(0, 1), 5, UpdateFlag.NOEXIST)     # EEXIST
            with pytest.raises(errors.NotFoundError):
                m.update(Pair(99, 1), 5, UpdateFlag.EXIST)      # ENOENT
        m.clear()
        assert len(m) == 0


@pytest.mark.parametrize("mtype", [MapType.ARRAY, MapType.PERCPU_ARRAY],
                         ids=["array", "percpu_array"])
def test_array_family(mtype):
    with Map.create(mtype, 4, 8, 16, name="pt_m_arr", value_type=int) as m:
        assert len(m) == 16
        if mtype == MapType.PERCPU_ARRAY:
            n = possible_cpus()
            m[2] = list(range(n))
            assert m[2] == list(range(n))
            m[3] = 7                                     # one value: every CPU
            assert m[3] == [7] * n
        else:
            m[2] = 42
            assert m[2] == 42 and dict(m.items())[struct.pack("<I", 2)] == 42
        with pytest.raises(errors.PybpfError):
            m[16] = 1                                    # out of range
        m.clear()
        assert all(v in (0, [0] * possible_cpus()) for v in m.values())


def test_batch_update_and_read():
    n = 5000
    with Map.create(MapType.HASH, 4, 8, n, name="pt_m_batch") as m:
        keys = b"".join(struct.pack("<I", i) for i in range(n))
        vals = b"".join(struct.pack("<Q", i * 3) for i in range(n))
        assert m.update_batch(keys, vals) == n
        got = {struct.unpack("<I", k)[0]: struct.unpack("<Q", v)[0]
               for k, v in m.items_raw(batch=512)}
        assert len(got) == n and got[4999] == 4999 * 3


def test_batch_update_falls_back_to_elements_where_the_kernel_has_none(monkeypatch):
    """5.10's LPM trie has no BPF_MAP_UPDATE_BATCH (ENOTSUPP): update_batch then writes
    element by element, with the same flags."""
    from pybpf._sys import syscall
    from pybpf._sys.uapi import Cmd
    real = syscall.bpf

    def no_batch_update(cmd, a, **kw):
        if cmd == Cmd.MAP_UPDATE_BATCH:
            raise errors.KernelError(524, "BPF_MAP_UPDATE_BATCH")
        return real(cmd, a, **kw)
    n = 300
    with Map.create(MapType.LPM_TRIE, 8, 8, n, name="pt_m_lpmb",
                    flags=MapFlag.NO_PREALLOC) as m:
        monkeypatch.setattr(syscall, "bpf", no_batch_update)
        keys = b"".join(struct.pack("<I4s", 32, struct.pack(">I", 0x0a000000 + i))
                        for i in range(n))
        vals = b"".join(struct.pack("<Q", i * 5) for i in range(n))
        assert m.update_batch(keys, vals) == n
        got = {k: struct.unpack("<Q", v)[0] for k, v in m.items_raw()}
        assert len(got) == n and got[keys[8 * 7:8 * 8]] == 35
        with pytest.raises(errors.KernelError):           # NOEXIST now holds per element
            m.update_batch(keys[:8], vals[:8], UpdateFlag.NOEXIST)


@pytest.mark.parametrize("typ", [MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH])
def test_drain_reads_and_empties_a_hash(typ, monkeypatch):
    """drain_raw: every entry once, the map empty after; the same when a batch is
    refused part way and without the batch op (per-key lookup-and-delete); refused on
    an array."""
    n = 3000
    # 256 a call; 1 a call (a bucket of two: ENOSPC, the rest key by key); no batch op
    for batch in (256, 1, 0):
        with Map.create(typ, 4, 8, 4 * n, name="pt_m_drain") as m:    # LRU: no eviction
            keys = b"".join(struct.pack("<I", i) for i in range(n))
            slot = m._vbuf_size
            vals = b"".join(struct.pack("<Q", i * 7).ljust(slot, b"\0") for i in range(n))
            assert m.update_batch(keys, vals) == n
            if not batch:
                def no_batch(*a, **k):
                    raise errors.KernelError(22, "BPF_MAP_LOOKUP_AND_DELETE_BATCH")
                monkeypatch.setattr(m, "batch_chunks", no_batch)
            got = {struct.unpack_from("<I", k)[0]: struct.unpack_from("<Q", v)[0]
                   for k, v in m.drain_raw(batch=batch or 256)}
            assert len(got) == n and got[2999] == 2999 * 7 and got[5] == 35
            assert list(m.items_raw()) == []
    with Map.create(MapType.ARRAY, 4, 8, 4, name="pt_m_drain") as m:
        with pytest.raises(errors.PybpfError):
            m.drain_raw()


def test_lpm_trie_longest_prefix():
    def key(plen, ip):
        return struct.pack("<I", plen) + bytes(map(int, ip.split(".")))
    with Map.create(MapType.LPM_TRIE, 8, 4, 16, name="pt_m_lpm",
                    flags=MapFlag.NO_PREALLOC, value_type=int) as m:
        m[key(8, "10.0.0.0")] = 1
        m[key(24, "10.1.2.0")] = 2
        assert m[key(32, "10.1.2.3")] == 2
        assert m[key(32, "10.9.9.9")] == 1
        assert m.get(key(32, "11.0.0.1")) is None


@pytest.mark.parametrize("mtype,order", [(MapType.QUEUE, [1, 2, 3]),
                                         (MapType.STACK, [3, 2, 1])], ids=["queue", "stack"])
def test_queue_and_stack(mtype, order):
    with Map.create(mtype, 0, 4, 8, name="pt_m_qs", value_type=int) as m:
        for v in (1, 2, 3):
            m.push(v)
        assert m.peek() == order[0]
        assert [m.pop() for _ in range(3)] == order
        with pytest.raises(KeyError):
            m.pop()


def test_bloom_filter():
    with Map.create(MapSpec("pt_m_bloom", MapType.BLOOM_FILTER, 0, 4, 100,
                            map_extra=3)) as m:
        for v in (10, 20):
            m.push(v)
        assert 10 in m and 20 in m


def test_ringbuf_perf_array_and_stack_trace_create():
    with Map.create(MapType.RINGBUF, 0, 0, 4096 * 4, name="pt_m_rb") as rb:
        assert rb.max_entries == 16384
    with Map.create(MapType.PERF_EVENT_ARRAY, 4, 4, possible_cpus(), name="pt_m_pea") as p:
        assert p.max_entries == possible_cpus()
    with Map.create(MapType.STACK_TRACE, 4, 127 * 8, 16, name="pt_m_st") as st:
        assert st.lookup_raw(0) is None


@pytest.mark.parametrize("spec", [
    MapSpec("pt_m_same_hash", MapType.HASH, 8, 16, 10, flags=MapFlag.NO_PREALLOC),
    MapSpec("pt_m_same_arr", MapType.ARRAY, 4, 12, 3,
            flags=MapFlag.MMAPABLE | MapFlag.RDONLY_PROG),
    MapSpec("pt_m_same_rdonly", MapType.ARRAY, 4, 8, 1, flags=MapFlag.RDONLY),
    MapSpec("pt_m_same_wronly", MapType.HASH, 4, 8, 2, flags=MapFlag.WRONLY),
    MapSpec("pt_m_same_pcpu", MapType.PERCPU_ARRAY, 4, 8, 5),
    MapSpec("pt_m_same_rb", MapType.RINGBUF, 0, 0, 4096 * 2),
    MapSpec("pt_m_same_q", MapType.QUEUE, 0, 4, 7),
    MapSpec("pt_m_same_bloom", MapType.BLOOM_FILTER, 0, 4, 100, map_extra=3),
    MapSpec("a_name_longer_than_fifteen", MapType.HASH, 4, 4, 1),
], ids=lambda s: s.name)
def test_a_created_map_says_what_the_kernel_says(spec):
    """Map.create describes the new map from its attributes, without asking the kernel
    (a syscall per map of a start): the same as OBJ_GET_INFO, field by field."""
    from pybpf.info import map_info
    with Map.create(spec) as m:
        mi = map_info(m.fileno())
        assert (m.name, m.type, m.key_size, m.value_size, m.max_entries, m.flags) == \
            (mi.name, mi.type, mi.key_size, mi.value_size, mi.max_entries, mi.flags)
        assert m.id == mi.id and m.id > 0
        again = Map.from_fd(m.fileno())
        try:
            assert (again.id, again.name, again.flags) == (m.id, m.name, m.flags)
        finally:
            again.close()


def test_prog_array_holds_a_program():
    code = Instructions([mov64(R0, 0), exit_()]).assemble()
    with Program.load(ProgramSpec(name="pt_m_tail", type=ProgType.SOCKET_FILTER,
                                  instructions=code, license="GPL")) as p, \
            Map.create(MapType.PROG_ARRAY, 4, 4, 4, name="pt_m_pa") as pa:
        pa[1] = p.fileno()
        assert int.from_bytes(pa[1], "little") == p.info().id      # reads give the prog id
        del pa[1]
        assert pa.get(1) is None


@pytest.mark.parametrize("outer", [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS],
                         ids=["array_of_maps", "hash_of_maps"])
def test_map_in_map(outer):
    with Map.create(MapType.ARRAY, 4, 4, 1, name="pt_m_inner") as inner, \
            Map.create(MapSpec("pt_m_outer", outer, 4, 4, 4, inner_map_fd=inner.fileno())) as o:
        o[0] = inner
        assert int.from_bytes(o[0], "little") == inner.id


def _storage_btf():
    from pybpf.btf import Spec
    from pybpf.btf import types as T
    s = Spec()
    i32 = s.add(T.Int("int", 4, encoding=1, bits=32))
    u64 = s.add(T.Int("long long unsigned int", 8, bits=64))
    val = s.add(T.Struct("pt_val", 8, [T.Member("n", u64, 0)]))
    return s.to_bytes(), i32, val


@pytest.mark.parametrize("kind", ["task", "cgroup"])
def test_task_and_cgroup_storage(kind):
    """Local storage maps are keyed by a pidfd / cgroup fd and need BTF for their value."""
    from pybpf.btf.handle import load_btf
    from pybpf.links.cgroup import cgroup2_root
    mtype = MapType.TASK_STORAGE if kind == "task" else MapType.CGRP_STORAGE
    blob, key_id, val_id = _storage_btf()
    cg = os.path.join(cgroup2_root(), f"pybpf-stor-{os.getpid()}")
    if kind == "task":
        keyfd = os.pidfd_open(os.getpid())
    else:
        os.mkdir(cg)
        keyfd = os.open(cg, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with load_btf(blob) as btf, Map.create(MapSpec(
                "pt_m_stor", mtype, 4, 8, 0, flags=MapFlag.NO_PREALLOC, btf_fd=btf.fileno(),
                btf_key_type_id=key_id, btf_value_type_id=val_id), value_type=int) as m:
            m[keyfd] = 5
            assert m[keyfd] == 5
            del m[keyfd]
            assert m.get(keyfd) is None
        with pytest.raises(errors.KernelError):     # without BTF the kernel refuses them
            Map.create(MapSpec("pt_m_stor", mtype, 4, 8, 0, flags=MapFlag.NO_PREALLOC))
    finally:
        os.close(keyfd)
        if kind == "cgroup":
            os.rmdir(cg)


def test_pin_reopen_from_id_and_freeze(bpffs):
    with Map.create(MapType.ARRAY, 4, 4, 2, name="pt_m_pin", value_type=int) as m:
        m[1] = 9
        path = os.path.join(bpffs, "pt_m_pin")
        m.pin(path)
        try:
            with Map.from_pin(path, value_type=int) as again:
                assert again[1] == 9 and again.id == m.id
            with Map.from_id(m.id, value_type=int) as by_id:
                assert by_id[1] == 9
        finally:
            os.unlink(path)
        m.freeze()
        with pytest.raises(errors.KernelError):
            m[1] = 10


def test_full_map_and_bad_sizes_are_clear():
    with Map.create(MapType.HASH, 4, 4, 2, name="pt_m_full") as m:
        m[1] = 1
        m[2] = 2
        with pytest.raises(errors.KernelError, match="full"):
            m[3] = 3
        with pytest.raises(ValueError, match="bytes"):
            m[b"\x01\x02"] = 1
