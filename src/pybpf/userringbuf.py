"""User ring buffer writer (BPF_MAP_TYPE_USER_RINGBUF, kernel 6.1+): samples written here
are drained by a program calling ``bpf_user_ringbuf_drain()``, as libbpf's
``user_ring_buffer__reserve()``/``__submit()`` do.

The mapping is the reverse of a ring buffer's (kernel/bpf/ringbuf.c): page 0 holds the
consumer position (the kernel's, read-only here), page 1 the producer position (ours),
then the data area mapped twice back to back so a sample that wraps is written as one
slice.  Each sample has an 8-byte header, its u32 length with BUSY (bit 31) set while it
is written; the kernel stops draining at a busy sample.  Nothing wakes a program: it
drains when it runs (a syscall program run with ``test_run()``, or any hook it is on).
"""

from __future__ import annotations

import ctypes
import errno
import mmap

from . import errors

_BUSY = 1 << 31
_HDR = 8
_PAGE = mmap.PAGESIZE


class UserRingBuffer:
    """The writer of a user ring buffer map: ``write(sample)`` for bytes or a ctypes
    instance (``pybpf.ctype(...)``).  A context manager; ``close()`` unmaps."""

    def __init__(self, map):
        errors.expect_map_type(map, 31, "a user ring buffer (BPF_MAP_TYPE_USER_RINGBUF)")
        size = map.max_entries
        fd = map.fileno()
        try:
            self._cons = mmap.mmap(fd, _PAGE, mmap.MAP_SHARED, mmap.PROT_READ, offset=0)
            self._prod = mmap.mmap(fd, _PAGE + 2 * size, mmap.MAP_SHARED,
                                   mmap.PROT_READ | mmap.PROT_WRITE, offset=_PAGE)
        except OSError as e:
            raise errors.from_errno(e.errno or errno.EINVAL, "mmap user ring buffer") from None
        self.size, self._mask = size, size - 1
        self._cons_q = memoryview(self._cons).cast("Q")
        self._prod_q = memoryview(self._prod)[:8].cast("Q")
        self._data = memoryview(self._prod)[_PAGE:]

    def free(self) -> int:
        """Bytes free for samples and their headers now."""
        return self.size - (self._prod_q[0] - self._cons_q[0])

    def write(self, sample) -> None:
        """Append one sample (bytes-like or a ctypes instance).  ValueError when it could
        never fit; KernelError ENOSPC (an OSError) while the ring is too full."""
        raw = sample if isinstance(sample, bytes) else (
            ctypes.string_at(ctypes.addressof(sample), ctypes.sizeof(sample))
            if isinstance(sample, (ctypes.Structure, ctypes.Union, ctypes.Array,
                                   ctypes._SimpleCData)) else bytes(memoryview(sample)))
        n = len(raw)
        total = (n + _HDR + 7) & ~7
        if total > self.size:
            raise ValueError(f"a {n}-byte sample does not fit a {self.size}-byte user ring "
                             "buffer")
        prod = self._prod_q[0]
        if self.size - (prod - self._cons_q[0]) < total:
            raise errors.KernelError(errno.ENOSPC, "user ring buffer write",
                                     f"{self.free()} bytes free, a {n}-byte sample needs "
                                     f"{total}: run the draining program")
        off = prod & self._mask
        hdr = self._data[off:off + _HDR].cast("I")
        hdr[0], hdr[1] = n | _BUSY, 0
        # Python has no barriers: these plain stores reach the kernel (which reads them
        # with acquire loads) in program order on x86-64's TSO: the busy header before
        # the new producer position, the data before the cleared busy bit
        self._prod_q[0] = prod + total
        self._data[off + _HDR:off + _HDR + n] = raw
        hdr[0] = n
        hdr.release()

    def close(self) -> None:
        for view in ("_cons_q", "_prod_q", "_data"):
            v = getattr(self, view, None)
            if v is not None:
                v.release()
                setattr(self, view, None)
        for m in ("_cons", "_prod"):
            mm = getattr(self, m, None)
            if mm is not None:
                mm.close()
                setattr(self, m, None)

    def __enter__(self) -> "UserRingBuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
