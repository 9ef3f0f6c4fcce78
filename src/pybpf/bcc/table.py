"""bcc's table classes over :class:`pybpf.maps.Map`: ``b["counts"]`` and friends.

Keys and values are ctypes instances of ``table.Key``/``table.Leaf`` (built from the
object's BTF), as in bcc; plain ints are accepted as keys where the key is an integer.
"""

from __future__ import annotations

import ctypes

from .. import errors
from .._sys.syscall import bpf, bpf_prepared, bpf_prepared_found
from .._sys.uapi import Cmd, MapType
from . import hist


class Table:
    """A hash-like map (hash, LRU hash, LPM trie, histogram)."""

    def __init__(self, bpf, name: str, map_, key_cls: type, leaf_cls: type):
        self.bpf, self.name, self.map = bpf, name, map_
        self.Key, self.Leaf = key_cls, leaf_cls
        self.map_fd = map_.fileno()
        self.max_entries = map_.max_entries
        self.flags = map_.flags
        self.ttype = int(map_.type)
        self._fast = None

    # -- the hot path: ctypes Key/Leaf instances straight into bpf(2), no copies ----------
    def _prepared(self):
        if self._fast is None:
            from .._sys import attr
            elem = attr.MapElem(map_fd=self.map_fd)
            self._fast = (elem, ctypes.byref(elem), ctypes.sizeof(elem))
        return self._fast

    def _fast_ok(self, k, v=None) -> bool:
        return type(k) is self.Key and (v is None or type(v) is self.Leaf) and \
            not getattr(self.map, "percpu", False)

    # -- conversion ------------------------------------------------------------------
    def _key(self, k):
        if isinstance(k, (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array)):
            raw = bytes(k)
        elif isinstance(k, (bytes, bytearray)):
            raw = bytes(k)
        else:
            raw = bytes(self.Key(k))
        return _fit(raw, self.Key)

    def _leaf_in(self, v):
        if isinstance(v, (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array,
                          bytes, bytearray)):
            # bcc hands the kernel a pointer to the caller's object, and the kernel copies
            # the map's value size from it: klockstat stores a c_int into a u64 array (bcc
            # reads past it). The same value here, zero-filled to the leaf, as keys are.
            return _fit(bytes(v), self.Leaf)
        return bytes(self.Leaf(v))

    def _leaf_out(self, raw: bytes):
        return self.Leaf.from_buffer_copy(raw[:ctypes.sizeof(self.Leaf)])

    # -- mapping API -----------------------------------------------------------------
    def __getitem__(self, key):
        if type(key) is int and self.Key in _INT_TYPES:
            key = self.Key(key)
        if self._fast_ok(key):
            elem, ref, size = self._prepared()
            leaf = self.Leaf()
            elem.key, elem.value, elem.flags = ctypes.addressof(key), ctypes.addressof(leaf), 0
            if bpf_prepared_found(_LOOKUP, elem, ref, size):
                return leaf
            raise KeyError(key)
        raw = self.map.lookup_raw(self._key(key))
        if raw is None:
            raise KeyError(key)
        return self._leaf_out(raw)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key, leaf) -> None:
        if self._fast_ok(key, leaf):
            elem, ref, size = self._prepared()
            elem.key, elem.value, elem.flags = ctypes.addressof(key), ctypes.addressof(leaf), 0
            bpf_prepared(_UPDATE, elem, ref, size)
            return
        self.map.update(self._key(key), self._leaf_in(leaf))

    def __delitem__(self, key) -> None:
        del self.map[self._key(key)]

    def __contains__(self, key) -> bool:
        return self.map.lookup_raw(self._key(key)) is not None

    def __len__(self) -> int:
        return sum(1 for _ in self.map.items_raw())

    def keys(self):
        return [self.Key.from_buffer_copy(k) for k, _ in self.map.items_raw()]

    def __iter__(self):
        return iter(self.keys())

    def values(self):
        return [v for _, v in self.items()]

    def items(self):
        return [(self.Key.from_buffer_copy(k), self._leaf_out(v))
                for k, v in self.map.items_raw()]

    def clear(self) -> None:
        self.map.clear()

    # Python 2's names, which bcc keeps (scripts written for both still call them)
    def iteritems(self):
        return iter(self.items())

    def itervalues(self):
        return iter(self.values())

    def iter(self):
        return iter(self.keys())

    # -- bcc's text form of keys and values (its "rw engine"; see rwtext) ------------
    def key_sprintf(self, key) -> bytes:
        from .rwtext import sprintf
        return sprintf(key)

    def leaf_sprintf(self, leaf) -> bytes:
        from .rwtext import sprintf
        return sprintf(leaf)

    def key_scanf(self, text):
        from .rwtext import scanf
        return scanf(text, self.Key)

    def leaf_scanf(self, text):
        from .rwtext import scanf
        return scanf(text, self.Leaf)

    def get_fd(self) -> int:
        """The map's file descriptor (an inner map's, to store in a map of maps)."""
        return self.map_fd

    # -- the rest of a mutable mapping, as bcc's tables are ---------------------------
    _MISSING = object()

    def pop(self, key, default=_MISSING):
        try:
            v = self[key]
        except KeyError:
            if default is Table._MISSING:
                raise
            return default
        del self[key]
        return v

    def popitem(self):
        """Some (Key, Leaf) pair, removed; KeyError on an empty table."""
        for k, _ in self.map.items_raw():
            key = self.Key.from_buffer_copy(k)
            return key, self.pop(key)
        raise KeyError("popitem(): table is empty")

    def setdefault(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            self[key] = default
            return default

    def update(self, other=(), **kw) -> None:
        items = other.items() if hasattr(other, "items") else other
        for k, v in items:
            self[k] = v

    def _zero_leaf(self):
        return bytes(ctypes.sizeof(self.Leaf))

    def zero(self) -> None:
        """Set every present value to zero (bcc: keeps the keys)."""
        zero = self._zero_leaf()
        for k, _ in list(self.map.items_raw()):
            self.map.update(k, zero)

    def items_update_batch(self, ct_keys, ct_values) -> None:
        """Write ctypes arrays of keys and values in one BPF_MAP_UPDATE_BATCH."""
        if len(ct_keys) != len(ct_values) or not len(ct_keys):
            raise ValueError("keys and values must be arrays of the same, non-zero length")
        self.map.update_batch(bytes(ct_keys), bytes(ct_values))

    def items_lookup_batch(self):
        """(Key, Leaf) pairs read with batch lookups."""
        return iter(self.items())

    def items_lookup_and_delete_batch(self):
        """(Key, Leaf) pairs, each removed as it is read (BPF_MAP_LOOKUP_AND_DELETE_BATCH:
        a count added after the read stays for the next call instead of being lost)."""
        try:
            raw = _lookup_and_delete_batch(self.map)
        except errors.KernelError as e:
            if e.errno not in (22, 95, 524):
                raise
            raw = []
            for k, _ in list(self.map.items_raw()):
                try:
                    v = self.map.lookup_and_delete(k)
                except (KeyError, errors.KernelError):
                    continue
                raw.append((k, v if isinstance(v, bytes) else bytes(v)))
        for k, v in raw:
            yield self.Key.from_buffer_copy(k), self._leaf_out(v)

    def items_delete_batch(self, ct_keys=None) -> None:
        """Delete the keys of ctypes array ``ct_keys`` (every key when None) with
        BPF_MAP_DELETE_BATCH."""
        if ct_keys is None:
            keys = [k for k, _ in self.map.items_raw()]
        elif isinstance(ct_keys, ctypes.Array):
            # an array of c_int yields Python ints: take its bytes, one key size apiece
            raw, ks = bytes(ct_keys), self.map.key_size
            keys = [raw[i:i + ks] for i in range(0, len(raw), ks)]
        else:
            keys = [self._key(k) for k in ct_keys]
        if not keys:
            return
        buf = ctypes.create_string_buffer(b"".join(keys), len(keys) * len(keys[0]))
        a = _attr().MapBatch(keys=ctypes.addressof(buf), count=len(keys),
                             map_fd=self.map_fd)
        try:
            bpf(Cmd.MAP_DELETE_BATCH, a)
        except errors.KernelError as e:
            if e.errno not in (22, 95, 524):
                raise
            for k in keys:
                try:
                    del self.map[k]
                except KeyError:
                    pass

    def print_json_hist(self, val_type="value", section_header="Bucket ptr",
                        section_print_fn=None, bucket_fn=None, bucket_sort_fn=None) -> None:
        hist.print_json(self, val_type=val_type, section_header=section_header,
                        section_print_fn=section_print_fn, bucket_fn=bucket_fn,
                        bucket_sort_fn=bucket_sort_fn)

    def print_log2_hist(self, val_type="value", section_header="Bucket ptr",
                        section_print_fn=None, bucket_fn=None, strip_leading_zero=None,
                        bucket_sort_fn=None) -> None:
        hist.print_table(self, linear=False, val_type=val_type,
                         section_header=section_header, section_print_fn=section_print_fn,
                         bucket_fn=bucket_fn, strip_leading_zero=strip_leading_zero,
                         bucket_sort_fn=bucket_sort_fn)

    def print_linear_hist(self, val_type="value", section_header="Bucket ptr",
                          section_print_fn=None, bucket_fn=None, strip_leading_zero=None,
                          bucket_sort_fn=None) -> None:
        hist.print_table(self, linear=True, val_type=val_type,
                         section_header=section_header, section_print_fn=section_print_fn,
                         bucket_fn=bucket_fn, strip_leading_zero=strip_leading_zero,
                         bucket_sort_fn=bucket_sort_fn)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} id={self.map.id}>"


def _attr():
    from .._sys import attr
    return attr


def _lookup_and_delete_batch(map_, n: int = 4096) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a hash map, each deleted in the same kernel call."""
    ks, vs = map_.key_size, map_._vbuf_size
    keys = ctypes.create_string_buffer(ks * n)
    vals = ctypes.create_string_buffer(vs * n)
    tok_in = ctypes.create_string_buffer(max(ks, 8))
    tok_out = ctypes.create_string_buffer(max(ks, 8))
    out, first = [], True
    while True:
        a = _attr().MapBatch(in_batch=0 if first else ctypes.addressof(tok_in),
                             out_batch=ctypes.addressof(tok_out), keys=ctypes.addressof(keys),
                             values=ctypes.addressof(vals), count=n, map_fd=map_.fileno())
        done = False
        try:       # not bpf_prepared: a repeated call would lose the last batch
            bpf(Cmd.MAP_LOOKUP_AND_DELETE_BATCH, a)
        except errors.NotFoundError:
            done = True     # ENOENT: the last batch (count says how many)
        kraw, vraw = keys.raw, vals.raw
        out += [(kraw[i * ks:(i + 1) * ks], vraw[i * vs:(i + 1) * vs]) for i in range(a.count)]
        if done or a.count == 0:
            return out
        ctypes.memmove(tok_in, tok_out, len(tok_out))
        first = False


HashTable = LruHash = LpmTrie = Table
_LOOKUP, _UPDATE = int(Cmd.MAP_LOOKUP_ELEM), int(Cmd.MAP_UPDATE_ELEM)
_INT_TYPES = {ctypes.c_int, ctypes.c_uint, ctypes.c_int32, ctypes.c_uint32, ctypes.c_long,
              ctypes.c_ulong, ctypes.c_uint64, ctypes.c_int64, ctypes.c_ulonglong,
              ctypes.c_longlong, ctypes.c_uint16, ctypes.c_uint8}


class Array(Table):
    """Array maps: every index exists; deleting zeroes the slot."""

    def _index(self, k):
        """An int index checked, negative ones counted from the end as bcc does."""
        if isinstance(k, int):
            if k < 0:
                k += self.max_entries
            if not 0 <= k < self.max_entries:
                raise IndexError(f"index {k} out of range for {self.name!r} "
                                 f"({self.max_entries} entries)")
        return k

    def _key(self, k):
        return super()._key(self._index(k))

    def __getitem__(self, key):
        return super().__getitem__(self._index(key))

    def __setitem__(self, key, leaf) -> None:
        super().__setitem__(self._index(key), leaf)

    def __len__(self) -> int:
        return self.max_entries

    def __delitem__(self, key) -> None:
        self.map.update(self._key(key), self._zero_leaf())

    def clear(self) -> None:
        zero = self._zero_leaf()
        for i in range(self.max_entries):
            self.map.update(self._key(i), zero)

    zero = clear


class PerCpuMixin:
    """Per-CPU values.  As in bcc, ``Leaf`` is an array type of one ``sLeaf`` (the C
    value type) per possible CPU and ``t[k]`` is such an array, or the ``reducer``
    (``get_table(..., reducer=f)``) folded over it."""

    reducer = None

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.sLeaf = self.Leaf
        self.total_cpu = self.map.ncpus
        self.Leaf = self.sLeaf * self.total_cpu

    def _values(self, raw: bytes):
        n = self.total_cpu
        slot = len(raw) // n
        size = ctypes.sizeof(self.sLeaf)
        arr = self.Leaf()
        for i in range(n):
            arr[i] = self.sLeaf.from_buffer_copy(raw[i * slot:i * slot + size])
        return arr

    def _leaf_out(self, raw: bytes):
        arr = self._values(raw)
        if self.reducer is not None:
            import functools
            return functools.reduce(self.reducer, arr)
        return arr

    def _leaf_in(self, v):
        if isinstance(v, (list, tuple, ctypes.Array)) and len(v) == self.total_cpu:
            return [bytes(x) if not isinstance(x, int) else bytes(self.sLeaf(x)) for x in v]
        if isinstance(v, int):
            return bytes(self.sLeaf(v))
        return _fit(bytes(v), self.sLeaf)

    def _zero_leaf(self):
        return [bytes(ctypes.sizeof(self.sLeaf))] * self.total_cpu

    def __setitem__(self, key, leaf) -> None:
        self.map.update(self._key(key), self._leaf_in(leaf))

    def getvalue(self, key):
        """One value per CPU, never reduced (bcc's ``getvalue``)."""
        raw = self.map.lookup_raw(self._key(key))
        if raw is None:
            raise KeyError(key)
        return self._values(raw)

    def sum(self, key):
        return self.sLeaf(sum(_num(x) for x in self.getvalue(key)))

    def max(self, key):
        return self.sLeaf(max(_num(x) for x in self.getvalue(key)))

    def average(self, key):
        vals = [_num(x) for x in self.getvalue(key)]
        return self.sLeaf(sum(vals) // max(len(vals), 1))


def _fit(raw: bytes, ctype) -> bytes:
    """``raw`` zero-filled or cut to ``ctype``'s size (what the kernel would copy)."""
    size = ctypes.sizeof(ctype)
    return raw.ljust(size, b"\0")[:size]


def _num(x) -> int:
    return int(getattr(x, "value", x))


class PerCpuHash(PerCpuMixin, Table):
    pass


LruPerCpuHash = PerCpuHash


class PerCpuArray(PerCpuMixin, Array):
    pass


class StackTrace(Table):
    """Stack trace map: ``walk(stack_id)`` yields the instruction addresses.  As in bcc,
    ``t[stack_id]`` is a structure whose ``ip`` array holds the addresses, or, for
    ``BPF_STACK_TRACE_BUILDID``, whose ``trace`` array holds the frames."""

    MAX_DEPTH, BPF_F_STACK_BUILD_ID = 127, 1 << 5

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        size = self.map.value_size
        if self.flags & 0x20:
            from .stackbuildid import bpf_stack_build_id
            fields = [("trace", bpf_stack_build_id * (size // ctypes.sizeof(
                bpf_stack_build_id)))]
        else:
            fields = [("ip", ctypes.c_ulonglong * (size // 8))]
        self.Leaf = type("StackTraceLeaf", (ctypes.Structure,), {"_fields_": fields})

    def walk(self, stack_id: int, resolve=None):
        if stack_id < 0:
            return
        raw = self.map.lookup_raw(self._key(stack_id))
        if raw is None:
            return
        if self.flags & 0x20:       # BPF_F_STACK_BUILD_ID: (build id, offset) frames
            from .stackbuildid import walk
            yield from walk(raw, resolve)
            return
        for i in range(0, len(raw) - 7, 8):
            addr = int.from_bytes(raw[i:i + 8], "little")
            if addr == 0:
                break
            yield resolve(addr) if resolve else addr


class ProgArray(Array):
    """``t[i] = bpf.load_func(...)`` installs a tail-call target."""

    def __setitem__(self, key, leaf) -> None:
        fd = leaf.fd if hasattr(leaf, "fd") else _num(leaf)    # a Function, int or c_int
        self.map.update(self._key(key), ctypes.c_uint32(fd))

    def __getitem__(self, key):
        raw = self.map.lookup_raw(self._key(key))
        if raw is None:
            raise KeyError(key)
        return ctypes.c_uint32.from_buffer_copy(raw[:4])

    def __delitem__(self, key) -> None:
        try:
            del self.map[self._key(key)]
        except KeyError:
            pass

    def clear(self) -> None:
        for i in range(self.max_entries):
            self.__delitem__(i)


class QueueStack:
    """Queue and stack maps: push/pop/peek, ``values()`` drains nothing (peek only)."""

    def __init__(self, bpf, name: str, map_, key_cls, leaf_cls):
        self.bpf, self.name, self.map, self.Leaf = bpf, name, map_, leaf_cls
        self.Key = key_cls

    def push(self, leaf, flags: int = 0) -> None:
        self.map.push(bytes(leaf) if not isinstance(leaf, int) else bytes(self.Leaf(leaf)),
                      flags)

    def pop(self):
        return self.Leaf.from_buffer_copy(self.map.pop())

    def peek(self):
        return self.Leaf.from_buffer_copy(self.map.peek())

    def itervalues(self):
        while True:
            try:
                yield self.pop()
            except KeyError:
                return

    def values(self):
        return list(self.itervalues())


class PerfEventArray:
    """``open_perf_buffer(cb, page_cnt, lost_cb)``; ``cb(cpu, data, size)`` as in bcc."""

    def __init__(self, bpf, name: str, map_, key_cls, leaf_cls):
        self.bpf, self.name, self.map = bpf, name, map_
        self.Key, self.Leaf = key_cls, leaf_cls
        self._event_cls = None
        self.buffer = None

    def event(self, data):
        return self.bpf._event(self.name, data)

    def open_perf_buffer(self, callback, page_cnt: int = 8, lost_cb=None,
                         wakeup_events: int = 1) -> None:
        from ..perfbuf import PerfBuffer
        if self.buffer is not None:
            raise errors.PybpfError(f"a perf buffer is already open on {self.name!r}")

        def on_sample(cpu, raw):
            buf = ctypes.create_string_buffer(bytes(raw), len(raw))
            callback(cpu, ctypes.c_void_p(ctypes.addressof(buf)), len(raw))

        on_lost = (lambda cpu, n: lost_cb(n)) if lost_cb else None
        self.buffer = PerfBuffer(self.map, on_sample, on_lost, page_cnt=page_cnt)
        self.bpf._perf_buffers[self.name] = self.buffer

    def open_perf_event(self, ev_type: int, ev_config: int, pid: int = -1) -> None:
        """Open a counting perf event per online CPU and put it at the CPU's index, for
        the program's ``table.perf_read(cpu)`` (BPF_PERF_ARRAY, as bcc)."""
        from .._sys import perf, syscall
        from ..links.perf_event import FLAG_FD_CLOEXEC, online_cpus
        if getattr(self, "_counters", None) is None:
            self._counters = []
            self.bpf._perf_buffers[self.name + "\0counters"] = self
        for cpu in online_cpus():
            attr = perf.PerfEventAttr(type=ev_type, config=ev_config)
            fd = syscall.perf_event_open(attr, pid, cpu, -1, FLAG_FD_CLOEXEC,
                                         detail=f"perf counter type {ev_type} config "
                                                f"{ev_config} cpu {cpu}")
            self._counters.append(fd)
            self.map.update(ctypes.c_int(cpu), ctypes.c_int(fd))

    def close(self) -> None:
        if self.buffer is not None:
            self.buffer.close()
            self.bpf._perf_buffers.pop(self.name, None)
            self.buffer = None
        import os
        for fd in getattr(self, "_counters", None) or ():
            os.close(fd)
        if getattr(self, "_counters", None) is not None:
            self._counters = None
            self.bpf._perf_buffers.pop(self.name + "\0counters", None)


class RingBuf:
    """``open_ring_buffer(cb, ctx=None)``; ``cb(ctx, data, size)`` as in bcc."""

    def __init__(self, bpf, name: str, map_, key_cls, leaf_cls):
        self.bpf, self.name, self.map = bpf, name, map_
        self.Key, self.Leaf = key_cls, leaf_cls

    def event(self, data):
        return self.bpf._event(self.name, data)

    def open_ring_buffer(self, callback, ctx=None) -> None:
        def on_record(raw):
            buf = ctypes.create_string_buffer(bytes(raw), len(raw))
            r = callback(ctx, ctypes.c_void_p(ctypes.addressof(buf)), len(raw))
            return r if isinstance(r, int) else 0

        self.bpf._ring_buffer().add(self.map, on_record)


_CLASSES = {MapType.HASH: HashTable, MapType.LRU_HASH: LruHash, MapType.LPM_TRIE: LpmTrie,
            MapType.ARRAY: Array, MapType.PERCPU_HASH: PerCpuHash,
            MapType.LRU_PERCPU_HASH: LruPerCpuHash, MapType.PERCPU_ARRAY: PerCpuArray,
            MapType.STACK_TRACE: StackTrace, MapType.PROG_ARRAY: ProgArray,
            MapType.QUEUE: QueueStack, MapType.STACK: QueueStack,
            MapType.PERF_EVENT_ARRAY: PerfEventArray, MapType.RINGBUF: RingBuf}


def table_class(map_type: int) -> type:
    cls = _CLASSES.get(map_type)
    if cls is None:
        from .nettables import CLASSES       # devices, CPUs, sockets, cgroups
        cls = CLASSES.get(map_type, Table)
    return cls
