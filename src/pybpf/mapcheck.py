"""Why BPF_MAP_CREATE said EINVAL: the kernel checks each map type's sizes and flags and
answers only "Invalid argument"; this names the rule a definition broke (pure, no syscall).

Objects written for other loaders often leave a field for their user space to fix up
(a ring buffer with a value type, a perf array of structs, max_entries 0): saying which
field, and what the kernel wants, turns a bare EINVAL into something one can act on.
"""

from __future__ import annotations

# map types by number (uapi enum bpf_map_type); names in messages come from the caller
_HASHES = {1, 5, 9, 10}                     # hash, percpu_hash, lru_hash, lru_percpu_hash
_ARRAYS = {2, 6}                            # array, percpu_array
_FD_ARRAYS = {3, 8, 12}                     # prog_array, cgroup_array, array_of_maps
_RINGBUFS = {27, 31}                        # ringbuf, user_ringbuf
_STORAGE = {24, 28, 29, 32}                 # sk/inode/task/cgrp local storage
_NET_FD = {14, 15, 16, 17, 18, 25}          # devmap, sockmap, cpumap, xskmap, sockhash,
                                            # devmap_hash
_KEYLESS = {22, 23, 30}                     # queue, stack, bloom_filter
PERF_EVENT_ARRAY, HASH_OF_MAPS, LPM_TRIE = 4, 13, 11
NO_PREALLOC = 1
PAGE = 4096


def ringbuf_size(size: int) -> int:
    """A ring buffer's max_entries as libbpf passes it: sizes that are not a power-of-2
    multiple of the page are rounded up to the next one (``__uint(max_entries, 8)`` in the
    selftests gets a page); 0 stays 0, for the kernel to refuse."""
    page = PAGE
    if size == 0 or (size % page == 0 and not (size // page) & (size // page - 1)):
        return size
    n = page
    while n <= size and n < 1 << 32:
        n <<= 1
    return n if n < 1 << 32 else size


def explain(map_type: int, key_size: int, value_size: int, max_entries: int,
            flags: int = 0, map_extra: int = 0) -> str | None:
    """The first size/flag rule of ``map_type`` this definition breaks, or None."""
    t = int(map_type)
    if t in _RINGBUFS:
        if key_size or value_size:
            return (f"a ring buffer takes no key or value (key_size {key_size}, value_size "
                    f"{value_size}: leave both out)")
        if max_entries < PAGE or max_entries & (max_entries - 1):
            return (f"a ring buffer's max_entries is its size in bytes, a power of 2 and a "
                    f"multiple of {PAGE} (got {max_entries})")
        return None
    if t == PERF_EVENT_ARRAY:
        if key_size != 4 or value_size != 4:
            return (f"a perf event array maps a CPU (4-byte key) to a perf fd (4-byte "
                    f"value); got key_size {key_size}, value_size {value_size}")
        return None
    if t in _STORAGE:
        if not flags & NO_PREALLOC:
            return "local storage maps need map_flags BPF_F_NO_PREALLOC"
        if max_entries:
            return f"local storage maps take max_entries 0 (got {max_entries})"
        if key_size != 4:
            return f"local storage maps are keyed by a 4-byte fd (key_size {key_size})"
        return None
    if t in _KEYLESS:
        if key_size:
            return f"queue, stack and bloom filter maps take no key (key_size {key_size})"
        if t == 30 and map_extra > 15:
            return f"a bloom filter's map_extra (hash count) is at most 15 (got {map_extra})"
    elif t in _ARRAYS or t in _FD_ARRAYS:
        if key_size != 4:
            return f"arrays are indexed by a 4-byte key (key_size {key_size})"
    elif t in _HASHES or t == HASH_OF_MAPS:
        if not key_size:
            return "hash maps need a key (key_size 0)"
    elif t == LPM_TRIE:
        if not flags & NO_PREALLOC:
            return "LPM tries need map_flags BPF_F_NO_PREALLOC"
        if key_size < 5:
            return (f"an LPM trie key is a 4-byte prefix length and at least one data byte "
                    f"(key_size {key_size})")
    elif t in _NET_FD:
        if key_size != 4:
            return f"device, CPU, XSK and socket maps take a 4-byte key (key_size {key_size})"
    else:
        return None
    if (t in _FD_ARRAYS or t == HASH_OF_MAPS) and value_size != 4:
        return (f"program arrays and maps of maps hold 4-byte fds (value_size {value_size})")
    if not value_size and t not in _NET_FD:
        return "value_size is 0: the map needs a value type"
    if not max_entries:
        return "max_entries is 0: set it in the definition or before load (spec.maps[...])"
    return None


def pin_mismatch(want: tuple, have: tuple) -> str | None:
    """How a pinned map differs from the definition an object wants to reuse it for, or
    None; both are (type, key_size, value_size, max_entries, flags).  Reusing a map of
    another shape would let programs read past values or a tail call land nowhere, so
    loaders (libbpf, tc) refuse it rather than recreate it under someone else's feet."""
    names = ("type", "key_size", "value_size", "max_entries", "flags")
    diffs = [f"{n} {int(w)} (object) != {int(h)} (pin)"
             for n, w, h in zip(names, want, have) if int(w) != int(h)]
    return ", ".join(diffs) or None
