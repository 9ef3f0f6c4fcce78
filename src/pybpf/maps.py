"""Maps: create, CRUD, iterate (batch ops where the kernel has them), pin, per-CPU values."""

from __future__ import annotations

import ctypes
import errno

TYPE_CHECKING = False
if TYPE_CHECKING:          # typing and collections cost milliseconds at start-up
    from collections.abc import Callable, Iterator  # noqa: F401 (Callable: Codec)
    from typing import Any

    from . import info

from . import errors     # info on first use, bpffs only where pinning: off a tool's start
from ._sys import attr, syscall
from ._sys.uapi import Cmd, MapFlag, MapType, UpdateFlag
from .fd import FD

_PERCPU = {MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH,
           MapType.PERCPU_CGROUP_STORAGE}
_ARRAYS = {MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY,
           MapType.ARRAY_OF_MAPS, MapType.CGROUP_ARRAY}
_NO_KEY = {MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER}
_LOOKUP = int(Cmd.MAP_LOOKUP_ELEM)
_BATCH = {MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH,
          MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.LPM_TRIE}   # LPM: the generic batch ops
_UNSUPPORTED = (errno.EINVAL, errno.EOPNOTSUPP, 524)   # 524: the kernel's ENOTSUPP
_HASHES = {MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH}


def possible_cpus() -> int:
    """How many CPUs the kernel may ever bring up (per-CPU values have this many slots)."""
    from ._sys.cpu import possible_cpus as cpus
    return max(cpus()) + 1


class MapSpec:
    """What BPF_MAP_CREATE needs."""

    _FIELDS = ("name", "type", "key_size", "value_size", "max_entries", "flags", "numa_node",
               "map_extra", "inner_map_fd", "btf_fd", "btf_key_type_id", "btf_value_type_id")

    def __init__(self, name: str, type: MapType | int, key_size: int = 0,
                 value_size: int = 0, max_entries: int = 0, flags: int = 0,
                 numa_node: int = 0, map_extra: int = 0, inner_map_fd: int = 0,
                 btf_fd: int = 0, btf_key_type_id: int = 0, btf_value_type_id: int = 0):
        self.name, self.type, self.key_size, self.value_size = name, type, key_size, value_size
        self.max_entries, self.flags, self.numa_node = max_entries, flags, numa_node
        self.map_extra, self.inner_map_fd, self.btf_fd = map_extra, inner_map_fd, btf_fd
        self.btf_key_type_id, self.btf_value_type_id = btf_key_type_id, btf_value_type_id

    def __eq__(self, other) -> bool:
        return type(other) is MapSpec and all(getattr(self, f) == getattr(other, f)
                                              for f in self._FIELDS)

    def __repr__(self) -> str:
        return "MapSpec(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS) + ")"


Codec = "Callable[[bytes], Any] | type | None"


class _Created:
    """What BPF_OBJ_GET_INFO would say of a map just created from ``spec`` (all but its id,
    which :attr:`Map.id` asks for when wanted): the kernel keeps the creation attributes
    as given, except the fd-access flags it does not store (bpf_map_flags_retain_permanent)
    and the name, kept to what fitted in ``map_name``.  Saves a start a syscall per map."""

    __slots__ = ("id", "name", "type", "key_size", "value_size", "max_entries", "flags")

    def __init__(self, spec: MapSpec, a):
        self.id = None
        self.name = a.map_name.decode(errors="replace")
        self.type = int(spec.type)
        self.key_size, self.value_size = spec.key_size, spec.value_size
        self.max_entries = spec.max_entries
        self.flags = spec.flags & ~(MapFlag.RDONLY | MapFlag.WRONLY)


class Map:
    """A kernel map. Keys/values: bytes, ints (little-endian, map-sized) or ctypes objects;
    reads return bytes unless ``key_type``/``value_type`` say how to decode."""

    def __init__(self, fd: FD, mi: info.MapInfo, key_type: Codec = None,
                 value_type: Codec = None):
        self.fd = fd
        self._id, self.name, self.type = mi.id, mi.name, mi.type
        self.key_size, self.value_size = mi.key_size, mi.value_size
        self.max_entries, self.flags = mi.max_entries, mi.flags
        self.key_type, self.value_type = key_type, value_type
        self.percpu = mi.type in _PERCPU
        self.ncpus = possible_cpus() if self.percpu else 1
        self._slot = (self.value_size + 7) & ~7 if self.percpu else self.value_size
        self._vbuf_size = self._slot * self.ncpus

    # -- construction ----------------------------------------------------------------
    @classmethod
    def create(cls, spec: MapSpec | MapType | int, key_size: int = 0, value_size: int = 0,
               max_entries: int = 0, *, name: str = "", flags: int = 0, **kw) -> "Map":
        if not isinstance(spec, MapSpec):
            spec = MapSpec(name, spec, key_size, value_size, max_entries, flags)
        a = attr.MapCreate(map_type=spec.type, key_size=spec.key_size,
                           value_size=spec.value_size, max_entries=spec.max_entries,
                           map_flags=spec.flags, inner_map_fd=spec.inner_map_fd,
                           numa_node=spec.numa_node, map_name=spec.name.encode()[:15],
                           btf_fd=spec.btf_fd, btf_key_type_id=spec.btf_key_type_id,
                           btf_value_type_id=spec.btf_value_type_id, map_extra=spec.map_extra)
        try:
            fd = FD(syscall.bpf(Cmd.MAP_CREATE, a, detail=f"map {spec.name!r}"))
        except errors.KernelError as e:
            if e.errno == 22 and not (_type_known(spec.type) and _kernel_has(spec.type)):
                raise errors.NotSupportedError(f"map type {_tname(spec.type)}",
                                               f"the kernel does not know it (map "
                                               f"{spec.name!r})") from None
            if e.errno == 22:      # EINVAL alone: name the size/flag rule that was broken
                from .mapcheck import explain
                why = explain(spec.type, spec.key_size, spec.value_size, spec.max_entries,
                              spec.flags, spec.map_extra or 0)
                if why:
                    raise errors.KernelError(22, "BPF_MAP_CREATE", f"map {spec.name!r} "
                                             f"({_tname(spec.type)}): {why}") from None
            raise
        try:
            return cls(fd, _Created(spec, a), **kw)
        except BaseException:
            fd.close()
            raise

    @classmethod
    def from_fd(cls, fd: FD | int, **kw) -> "Map":
        from .info import map_info
        if not isinstance(fd, FD):
            import os
            fd = FD(os.dup(fd))
        try:
            return cls(fd, map_info(fd.fileno()), **kw)
        except BaseException:
            fd.close()
            raise

    @classmethod
    def from_id(cls, map_id: int, **kw) -> "Map":
        from .info import fd_by_id
        return cls.from_fd(fd_by_id("map", map_id), **kw)

    @classmethod
    def from_pin(cls, path: str, **kw) -> "Map":
        from . import bpffs
        return cls.from_fd(bpffs.get(path), **kw)

    def fileno(self) -> int:
        return self.fd.fileno()

    @property
    def id(self) -> int:
        """The kernel's id of the map (for a map made here, asked on first use)."""
        if self._id is None:
            from .info import map_info
            self._id = map_info(self.fileno()).id
        return self._id

    def info(self) -> info.MapInfo:
        from .info import map_info
        return map_info(self.fileno())

    def pin(self, path: str) -> None:
        from . import bpffs
        bpffs.pin(self.fileno(), path)

    def freeze(self) -> None:
        syscall.bpf(Cmd.MAP_FREEZE, attr.MapElem(map_fd=self.fileno()))

    def close(self) -> None:
        self.fd.close()

    def __enter__(self) -> "Map":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Map {self.name!r} id={self.id} type={_tname(self.type)}>"

    # -- encoding --------------------------------------------------------------------
    def _enc(self, v: Any, size: int, what: str) -> bytes:
        if isinstance(v, int):
            try:
                return v.to_bytes(size, "little", signed=v < 0)
            except OverflowError:
                raise ValueError(f"{what} {v} does not fit in {size} bytes") from None
        if isinstance(v, Map) or hasattr(v, "fileno") and not isinstance(v, (bytes, bytearray)):
            # a map (map-in-map), a program or its FD (program array): the fd number, not
            # bytes(FD), which FD.__index__ would make fd-many zero bytes
            v = v.fileno().to_bytes(4, "little")
        b = bytes(v)
        if len(b) != size:
            raise ValueError(f"{what} is {len(b)} bytes; map {self.name!r} needs {size}")
        return b

    def _key(self, k: Any) -> ctypes.Array:
        return ctypes.create_string_buffer(self._enc(k, self.key_size, "key"), self.key_size)

    def _value_in(self, v: Any) -> ctypes.Array:
        if self.percpu:
            vals = list(v) if isinstance(v, (list, tuple)) else [v] * self.ncpus
            if len(vals) != self.ncpus:
                raise ValueError(f"per-CPU value needs {self.ncpus} items")
            raw = b"".join(self._enc(x, self.value_size, "value").ljust(self._slot, b"\0")
                           for x in vals)
        else:
            raw = self._enc(v, self.value_size, "value")
        return ctypes.create_string_buffer(raw, len(raw))

    def _dec(self, raw: bytes, codec: Codec) -> Any:
        if codec is None:
            return raw
        if codec is int:
            return int.from_bytes(raw, "little")
        if isinstance(codec, type) and issubclass(codec, (ctypes.Structure, ctypes._SimpleCData,
                                                          ctypes.Array, ctypes.Union)):
            return codec.from_buffer_copy(raw)
        return codec(raw)

    def _value_out(self, raw: bytes) -> Any:
        if self.percpu:
            return [self._dec(raw[i * self._slot:i * self._slot + self.value_size],
                              self.value_type) for i in range(self.ncpus)]
        return self._dec(raw, self.value_type)

    # -- element ops -----------------------------------------------------------------
    def lookup_raw(self, key: Any) -> bytes | None:
        """The raw value bytes for ``key`` (all CPUs' slots for per-CPU maps), or None."""
        kb = self._key(key) if self.key_size else None
        vb = ctypes.create_string_buffer(self._vbuf_size)
        a = attr.MapElem(map_fd=self.fileno(), key=syscall.addr(kb), value=ctypes.addressof(vb))
        if not syscall.bpf_prepared_found(_LOOKUP, a, ctypes.byref(a), ctypes.sizeof(a)):
            return None     # a miss builds no error object: it is a common answer
        return vb.raw

    def get(self, key: Any, default: Any = None) -> Any:
        raw = self.lookup_raw(key)
        return default if raw is None else self._value_out(raw)

    def __getitem__(self, key: Any) -> Any:
        raw = self.lookup_raw(key)
        if raw is None:
            raise KeyError(key)
        return self._value_out(raw)

    def update(self, key: Any, value: Any, flags: int = UpdateFlag.ANY) -> None:
        kb = self._key(key) if self.key_size else None
        vb = self._value_in(value)
        a = attr.MapElem(map_fd=self.fileno(), key=syscall.addr(kb),
                         value=ctypes.addressof(vb), flags=flags)
        try:
            syscall.bpf(Cmd.MAP_UPDATE_ELEM, a, detail=f"map {self.name!r}")
        except errors.KernelError as e:
            if e.errno == 7:  # E2BIG
                raise errors.KernelError(7, "BPF_MAP_UPDATE_ELEM",
                                         f"map {self.name!r} is full "
                                         f"({self.max_entries} entries)") from None
            if e.errno == 1 and self.flags & MapFlag.RDONLY_PROG == 0:
                raise errors.KernelError(1, "BPF_MAP_UPDATE_ELEM",
                                         f"map {self.name!r} is frozen or read-only") from None
            raise

    __setitem__ = update

    def __delitem__(self, key: Any) -> None:
        kb = self._key(key)
        a = attr.MapElem(map_fd=self.fileno(), key=ctypes.addressof(kb))
        try:
            syscall.bpf(Cmd.MAP_DELETE_ELEM, a)
        except errors.NotFoundError:
            raise KeyError(key) from None

    def __contains__(self, key: Any) -> bool:
        if self.type == MapType.BLOOM_FILTER:
            vb = self._value_in(key)
            a = attr.MapElem(map_fd=self.fileno(), value=ctypes.addressof(vb))
            try:
                syscall.bpf(Cmd.MAP_LOOKUP_ELEM, a)
                return True
            except errors.NotFoundError:
                return False
        return self.lookup_raw(key) is not None

    # queue / stack / bloom filter
    def push(self, value: Any, flags: int = 0) -> None:
        """Push onto a queue/stack or add to a bloom filter (no key)."""
        self.update(None, value, flags)

    def pop(self) -> Any:
        vb = ctypes.create_string_buffer(self._vbuf_size)
        try:
            syscall.bpf(Cmd.MAP_LOOKUP_AND_DELETE_ELEM,
                        attr.MapElem(map_fd=self.fileno(), value=ctypes.addressof(vb)))
        except errors.NotFoundError:
            raise KeyError("pop from an empty map") from None
        return self._value_out(vb.raw)

    def peek(self) -> Any:
        raw = self.lookup_raw(None)
        if raw is None:
            raise KeyError("peek into an empty map")
        return self._value_out(raw)

    def lookup_and_delete(self, key: Any) -> Any:
        raw = self._take_raw(self._key(key))
        if raw is None:
            raise KeyError(key)
        return self._value_out(raw)

    def _take_raw(self, kb) -> bytes | None:
        """The value of key buffer ``kb``, deleted in the same call (None if absent)."""
        vb = ctypes.create_string_buffer(self._vbuf_size)
        try:
            syscall.bpf(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, attr.MapElem(
                map_fd=self.fileno(), key=ctypes.addressof(kb), value=ctypes.addressof(vb)))
        except errors.NotFoundError:
            return None
        return vb.raw

    # -- iteration -------------------------------------------------------------------
    def _raw_keys(self) -> Iterator[bytes]:
        kb = ctypes.create_string_buffer(self.key_size)
        nb = ctypes.create_string_buffer(self.key_size)
        a = attr.MapElem(map_fd=self.fileno(), key=0, value=ctypes.addressof(nb))
        while True:
            try:
                syscall.bpf(Cmd.MAP_GET_NEXT_KEY, a)
            except errors.NotFoundError:
                return
            yield nb.raw
            ctypes.memmove(kb, nb, self.key_size)
            a.key = ctypes.addressof(kb)

    def items_raw(self, batch: int = 4096) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) bytes for every entry; batch lookups where the kernel has them."""
        if self.type in _BATCH:
            try:
                yield from self._batch_items(batch)
                return
            except errors.KernelError as e:
                if e.errno not in (22, 95, 524):
                    raise
        for k in self._raw_keys():
            v = self.lookup_raw(k)
            if v is not None:
                yield k, v

    def _batch_items(self, n: int) -> Iterator[tuple[bytes, bytes]]:
        ks, vs = self.key_size, self._vbuf_size
        for kraw, vraw, count in self.batch_chunks(n):
            for i in range(count):
                yield kraw[i * ks:(i + 1) * ks], vraw[i * vs:(i + 1) * vs]

    def drain_raw(self, batch: int = 4096) -> list[tuple[bytes, bytes]]:
        """(key, value) bytes of every entry of a hash map, each deleted as it is read
        (BPF_MAP_LOOKUP_AND_DELETE_BATCH, else per key): what the BPF side adds while
        this runs lands in a new entry, read next time.  Reading all and then deleting
        the keys read loses every count added in between (a tool's interval)."""
        if self.type not in _HASHES:
            raise errors.PybpfError(f"drain_raw: map {self.name!r} is not a hash map")
        ks, vs = self.key_size, self._vbuf_size
        out: list[tuple[bytes, bytes]] = []
        try:
            for k, v, n in self.batch_chunks(batch, delete=True):
                out += [(k[i * ks:(i + 1) * ks], v[i * vs:(i + 1) * vs]) for i in range(n)]
            return out
        except errors.KernelError as e:
            # no batch ops (EINVAL/EOPNOTSUPP/ENOTSUPP), or a bucket larger than the batch
            # (ENOSPC): what was taken out so far is kept, the rest goes key by key
            if e.errno not in (*_UNSUPPORTED, errno.ENOSPC):
                raise
        for k in list(self._raw_keys()):
            kb = ctypes.create_string_buffer(k, self.key_size)
            try:
                # hash maps take LOOKUP_AND_DELETE_ELEM since 5.14
                v = self._take_raw(kb)
                if v is not None:
                    out.append((k, v))
                continue
            except errors.KernelError as e:
                if e.errno not in _UNSUPPORTED:
                    raise
            v = self.lookup_raw(k)
            if v is not None:
                out.append((k, v))
                try:
                    syscall.bpf(Cmd.MAP_DELETE_ELEM,
                                attr.MapElem(map_fd=self.fileno(), key=ctypes.addressof(kb)))
                except errors.NotFoundError:
                    pass
        return out

    def batch_chunks(self, n: int = 4096, delete: bool = False
                     ) -> Iterator[tuple[bytes, bytes, int]]:
        """BPF_MAP_LOOKUP_BATCH (``delete``: BPF_MAP_LOOKUP_AND_DELETE_BATCH), up to ``n``
        entries a call: ``(keys, values, count)`` with ``count`` packed keys (key_size
        bytes each) and values (all CPUs' 8-byte aligned slots for per-CPU maps).  For
        readers that decode a whole chunk at once; raises KernelError (EINVAL/EOPNOTSUPP)
        where the kernel or map type has no batch ops."""
        cmd = Cmd.MAP_LOOKUP_AND_DELETE_BATCH if delete else Cmd.MAP_LOOKUP_BATCH
        ks, vs = self.key_size, self._vbuf_size
        keys = ctypes.create_string_buffer(ks * n)
        vals = ctypes.create_string_buffer(vs * n)
        token_in = ctypes.create_string_buffer(max(ks, 8))
        token_out = ctypes.create_string_buffer(max(ks, 8))
        first = True
        while True:
            a = attr.MapBatch(in_batch=0 if first else ctypes.addressof(token_in),
                              out_batch=ctypes.addressof(token_out), keys=ctypes.addressof(keys),
                              values=ctypes.addressof(vals), count=n, map_fd=self.fileno())
            done = False
            try:
                syscall.bpf(cmd, a)
            except errors.NotFoundError:
                done = True  # ENOENT: this was the last batch (count says how many)
            if a.count:
                yield keys.raw[:a.count * ks], vals.raw[:a.count * vs], a.count
            if done or a.count == 0:
                return
            ctypes.memmove(token_in, token_out, len(token_out))
            first = False

    def update_batch(self, keys: bytes, values: bytes, flags: int = 0) -> int:
        """BPF_MAP_UPDATE_BATCH of packed keys/values (n * key_size, n * value slot bytes);
        element by element where the kernel has none for the map's type (5.10's LPM trie,
        any map before 5.6)."""
        n = len(keys) // self.key_size if self.key_size else 0
        if n * self.key_size != len(keys) or len(values) != n * self._vbuf_size:
            raise ValueError("keys/values are not whole multiples of the map's sizes")
        kb = ctypes.create_string_buffer(keys, len(keys))
        vb = ctypes.create_string_buffer(values, len(values))
        a = attr.MapBatch(keys=ctypes.addressof(kb), values=ctypes.addressof(vb), count=n,
                          map_fd=self.fileno(), elem_flags=flags)
        try:
            syscall.bpf(Cmd.MAP_UPDATE_BATCH, a, detail=f"map {self.name!r}")
            return a.count
        except errors.KernelError as e:
            # the kernel leaves count as given when it has no batch op for the map
            if e.errno not in _UNSUPPORTED:
                raise
        ks, vs = self.key_size, self._vbuf_size
        for i in range(n):
            el = attr.MapElem(map_fd=self.fileno(), key=ctypes.addressof(kb) + i * ks,
                              value=ctypes.addressof(vb) + i * vs, flags=flags)
            syscall.bpf(Cmd.MAP_UPDATE_ELEM, el, detail=f"map {self.name!r}")
        return n

    def keys(self) -> Iterator[Any]:
        for k, _ in self.items_raw():
            yield self._dec(k, self.key_type)

    __iter__ = keys

    def values(self) -> Iterator[Any]:
        for _, v in self.items_raw():
            yield self._value_out(v)

    def items(self) -> Iterator[tuple[Any, Any]]:
        for k, v in self.items_raw():
            yield self._dec(k, self.key_type), self._value_out(v)

    def __len__(self) -> int:
        if self.type in _ARRAYS:
            return self.max_entries
        return sum(1 for _ in self._raw_keys())

    def clear(self) -> None:
        if self.type in _ARRAYS:
            zero = [bytes(self.value_size)] * self.ncpus if self.percpu else bytes(
                self.value_size)
            for i in range(self.max_entries):
                self.update(i, zero)
            return
        for k in list(self._raw_keys()):
            try:
                del self[k]
            except KeyError:
                pass


def _type_known(t: int) -> bool:
    try:
        MapType(t)
        return True
    except ValueError:
        return False


def _kernel_has(t: int) -> bool:
    """Whether the running kernel creates maps of type ``t`` (a probe: only after an
    EINVAL, to tell an old kernel from a bad size or flag)."""
    from .features import Features
    try:
        return Features().map_type(t)
    except errors.PybpfError:
        return True         # cannot tell: report the kernel's own EINVAL


def _tname(t: int) -> str:
    try:
        return MapType(t).name.lower()
    except ValueError:
        return str(t)
