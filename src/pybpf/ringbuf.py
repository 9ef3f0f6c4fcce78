"""Ring buffer reader (BPF_MAP_TYPE_RINGBUF): mmap'd pages, epoll wake-ups, batched reads.

Layout the kernel exposes through mmap of the map fd (kernel/bpf/ringbuf.c):
page 0 holds the consumer position (we write it), page 1 the producer position
(read-only), then the data area mapped twice back to back so a record that
wraps around the end reads as one contiguous slice.  Each record starts with
an 8-byte header: u32 length with BUSY (bit 31) and DISCARD (bit 30) flags,
then u32 page offset; records are 8-byte aligned.
"""

from __future__ import annotations

import mmap
import select

from . import errors

TYPE_CHECKING = False
if TYPE_CHECKING:          # collections costs a tool's start ~1 ms; annotations only
    from collections.abc import Callable, Iterator  # noqa: F401
    Callback = Callable[[memoryview], "int | None"]   # a record, valid during the call

_BUSY = 1 << 31
_DISCARD = 1 << 30
_LEN = _DISCARD - 1
_HDR = 8
_PAGE = mmap.PAGESIZE
_CHUNK = 1 << 18    # publish the consumer position at least every 256 KiB of records


class _Ring:
    """One mapped ring buffer.

    The hot loops read positions and headers through memoryviews cast to u64/u32 (one
    index each, no tuples) and publish the consumer position once per chunk of records
    rather than per record.
    """

    def __init__(self, map_fd: int, size: int, callback: Callback | None):
        if size <= 0 or size & (size - 1) or size % _PAGE:
            raise ValueError(f"ring buffer size {size} is not a power-of-2 multiple of the page")
        self.fd = map_fd
        self.mask = size - 1
        self.chunk = min(size >> 2, _CHUNK)
        self.callback = callback
        try:
            self.cons = mmap.mmap(map_fd, _PAGE, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            self.prod = mmap.mmap(map_fd, _PAGE + 2 * size, mmap.MAP_SHARED,
                                  mmap.PROT_READ, offset=_PAGE)
        except OSError as e:
            raise errors.from_errno(e.errno or 22, "mmap ring buffer") from None
        self.cons_q = memoryview(self.cons).cast("Q")       # [0]: consumer position
        self.prod_q = memoryview(self.prod)[:8].cast("Q")   # [0]: producer position
        self.data = memoryview(self.prod)[_PAGE:]
        self.words = self.data.cast("I")                    # record headers, by offset >> 2

    def has_data(self) -> bool:
        return self.cons_q[0] < self.prod_q[0]

    def consume(self, limit: int | None = None,
                upto: int | None = None) -> Iterator[memoryview]:
        """Yield ready records (zero-copy views valid until the next yield) in order;
        ``upto``: none written past that producer position.

        A record counts as consumed once yielded: leaving the loop early does not
        deliver it again.
        """
        data, words, mask, chunk = self.data, self.words, self.mask, self.chunk
        cons, prod = self.cons_q, self.prod_q
        pos = cons[0]
        n = 0
        view = None
        try:
            while True:
                end = prod[0] if upto is None else min(prod[0], upto)
                if pos >= end:
                    return
                if end - pos > chunk:
                    end = pos + chunk
                while pos < end:
                    off = pos & mask
                    length = words[off >> 2]
                    if length & _BUSY:
                        # a producer reserved this record but has not committed it yet
                        return
                    size = length & _LEN
                    nxt = pos + ((size + _HDR + 7) & ~7)
                    if length & _DISCARD:
                        pos = nxt
                        continue
                    off += _HDR
                    view = data[off:off + size]
                    pos = nxt
                    n += 1
                    yield view
                    view.release()
                    if limit is not None and n >= limit:
                        return
                # publishing the position lets the kernel reuse the space
                cons[0] = pos
        finally:
            if view is not None:
                view.release()
            cons[0] = pos

    def run_callback(self, cb: Callback) -> tuple[int, bool]:
        """Call ``cb`` on every ready record; return (count, stopped by a non-zero return).

        If ``cb`` raises, the record it was given stays unconsumed.  The loop repeats
        :meth:`consume`'s on purpose: resuming a generator per record would cost the
        callback path a large part of its speed (see bench/RESULTS.md, events/s).
        """
        data, words, mask, chunk = self.data, self.words, self.mask, self.chunk
        cons, prod = self.cons_q, self.prod_q
        pos = cons[0]
        n = 0
        try:
            while True:
                end = prod[0]
                if pos >= end:
                    return n, False
                if end - pos > chunk:
                    end = pos + chunk
                while pos < end:
                    off = pos & mask
                    length = words[off >> 2]
                    if length & _BUSY:
                        return n, False
                    size = length & _LEN
                    nxt = pos + ((size + _HDR + 7) & ~7)
                    if not length & _DISCARD:
                        off += _HDR
                        view = data[off:off + size]
                        try:
                            stop = cb(view)
                        finally:
                            view.release()
                        n += 1
                        if stop:
                            pos = nxt
                            return n, True
                    pos = nxt
                cons[0] = pos
        finally:
            cons[0] = pos

    def close(self) -> None:
        for v in (self.words, self.data, self.prod_q, self.cons_q):
            v.release()
        self.prod.close()
        self.cons.close()


class RingBuffer:
    """Reads one or more ring buffer maps; ``poll()`` waits on all of them with one epoll.

    Use as an iterator source (``for rec in rb.poll(100): ...``) or with callbacks
    passed to ``add``/the constructor (``rb.poll_callbacks(timeout)``).
    """

    def __init__(self, map=None, callback: Callback | None = None):
        self._rings: list[_Ring] = []
        self._epoll = select.epoll()
        if map is not None:
            self.add(map, callback)

    def add(self, map, callback: Callback | None = None) -> None:
        """Add a ring buffer map (a pybpf Map, or (fd, size))."""
        if isinstance(map, tuple):
            fd, size = map
        else:
            errors.expect_map_type(map, 27, "a ring buffer (BPF_MAP_TYPE_RINGBUF)")
            fd, size = map.fileno(), map.max_entries
        ring = _Ring(fd, size, callback)
        self._epoll.register(fd, select.EPOLLIN)
        self._rings.append(ring)

    def _wait(self, timeout_ms: int) -> None:
        try:
            self._epoll.poll(timeout_ms / 1000 if timeout_ms >= 0 else -1)
        except InterruptedError:
            pass

    def poll(self, timeout_ms: int = -1) -> Iterator[memoryview]:
        """Wait up to ``timeout_ms`` for data, then yield every ready record of every ring."""
        if not any(self._has_data(r) for r in self._rings):
            self._wait(timeout_ms)
        for ring in self._rings:
            yield from ring.consume()

    def consume(self, present: bool = False) -> Iterator[memoryview]:
        """Yield what is ready now, without waiting.  ``present``: only the records
        written before the call: a drain at Ctrl-C must end although the programs, still
        attached, keep writing faster than a slow handler reads."""
        upto = [r.prod_q[0] if present else None for r in self._rings]
        for ring, end in zip(self._rings, upto):
            yield from ring.consume(upto=end)

    def read(self, timeout_ms: int = -1, decode=None, limit: int | None = None) -> list:
        """Wait up to ``timeout_ms``, then return every ready record (at most ``limit``)
        decoded in one batch: as a ctypes type, a ``struct.Struct``, a callable, or bytes
        (see :func:`pybpf.records.decoder`)."""
        from .records import decoder
        conv = decoder(decode)
        if not any(self._has_data(r) for r in self._rings):
            self._wait(timeout_ms)
        out: list = []
        for ring in self._rings:
            left = None if limit is None else limit - len(out)
            if left is not None and left <= 0:
                break
            out.extend(conv(v) for v in ring.consume(left))
        return out

    def poll_callbacks(self, timeout_ms: int = -1) -> int:
        """bcc/libbpf style: wait, then run each ring's callback per record; return the count.

        A callback returning a non-zero int stops the batch early (like libbpf).
        """
        if not any(self._has_data(r) for r in self._rings):
            self._wait(timeout_ms)
        return self.consume_callbacks()

    def consume_callbacks(self) -> int:
        n = 0
        for ring in self._rings:
            cb = ring.callback
            if cb is None:
                raise ValueError("no callback given for this ring buffer")
            k, stopped = ring.run_callback(cb)
            n += k
            if stopped:
                return n
        return n

    @staticmethod
    def _has_data(ring: _Ring) -> bool:
        return ring.has_data()

    def fileno(self) -> int:
        """The epoll fd, to embed this reader in another event loop."""
        return self._epoll.fileno()

    def close(self) -> None:
        for ring in self._rings:
            ring.close()
        self._rings.clear()
        if not self._epoll.closed:
            self._epoll.close()

    def __enter__(self) -> "RingBuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

