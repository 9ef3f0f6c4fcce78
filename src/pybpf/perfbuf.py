"""Perf buffer reader (BPF_MAP_TYPE_PERF_EVENT_ARRAY + bpf_perf_event_output).

One perf event of type BPF_OUTPUT per CPU, each with its own mmap'd ring; the event
fds go into the map at their CPU's index.  Each ring starts with the
``perf_event_mmap_page`` header page (data_head at byte 1024, data_tail at 1032),
followed by 2^n data pages; records (``perf_event_header``: u32 type, u16 misc,
u16 size) may wrap around the ring's end.  Lost-sample records (PERF_RECORD_LOST)
carry how many samples the kernel dropped because the ring was full.
"""

from __future__ import annotations

import ctypes
import mmap
import select

from . import errors
from ._sys import attr, perf, syscall
from ._sys.uapi import Cmd
from .fd import FD
from ._sys.cpu import possible_cpus

TYPE_CHECKING = False
if TYPE_CHECKING:          # collections costs a tool's start ~1 ms; annotations only
    from collections.abc import Callable
    SampleCallback = Callable[[int, memoryview], None]   # (cpu, raw sample), valid during the call
    LostCallback = Callable[[int, int], None]             # (cpu, count)

_PAGE = mmap.PAGESIZE
_RECORD_LOST = 2
_RECORD_SAMPLE = 9
_HEAD, _TAIL = 1024, 1032




class _CpuRing:
    def __init__(self, cpu: int, page_cnt: int):
        pa = perf.PerfEventAttr(type=perf.TYPE_SOFTWARE, config=perf.COUNT_SW_BPF_OUTPUT,
                                sample_type=perf.SAMPLE_RAW, sample_period=1, wakeup_events=1)
        self.cpu = cpu
        self.fd = FD(syscall.perf_event_open(pa, -1, cpu, -1, 1 << 3,  # PERF_FLAG_FD_CLOEXEC
                                             detail=f"BPF output event on CPU {cpu}"))
        self.size = page_cnt * _PAGE
        try:
            self.mm = mmap.mmap(self.fd.fileno(), _PAGE + self.size, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as e:
            self.fd.close()
            raise errors.from_errno(e.errno or 22, "mmap perf buffer",
                                    f"{page_cnt} pages on CPU {cpu}") from None
        self.head_tail = memoryview(self.mm)[:_PAGE].cast("Q")   # data_head, data_tail
        self.data = memoryview(self.mm)[_PAGE:]
        self.q = self.data.cast("Q")        # record headers, by offset >> 3
        self.words = self.data.cast("I")

    def read(self, on_sample: SampleCallback, on_lost: LostCallback | None) -> tuple[int, int]:
        # perf records are 8-byte aligned and the ring is a multiple of 8, so a header never
        # wraps; read it as one u64: type in the low 32 bits, size in the top 16
        q, words, data, head_tail = self.q, self.words, self.data, self.head_tail
        head = head_tail[_HEAD >> 3]
        tail = head_tail[_TAIL >> 3]
        cpu = self.cpu
        mask = self.size - 1
        n = lost = 0
        try:
            while tail < head:
                off = tail & mask
                hdr = q[off >> 3]
                rsize = hdr >> 48
                if rsize < 8:
                    break  # corrupt ring; stop rather than spin
                rtype = hdr & 0xFFFFFFFF
                if rtype == _RECORD_SAMPLE:
                    raw_size = words[((off + 8) & mask) >> 2]
                    start = (off + 12) & mask
                    if start + raw_size <= mask + 1:
                        rec = data[start:start + raw_size]
                    else:
                        rec = memoryview(self._copy(start, raw_size))
                    try:
                        on_sample(cpu, rec)
                    finally:
                        rec.release()
                    n += 1
                elif rtype == _RECORD_LOST:
                    lo = q[((off + 16) & mask) >> 3]
                    lost += lo
                    if on_lost is not None:
                        on_lost(cpu, lo)
                tail += rsize
        finally:
            head_tail[_TAIL >> 3] = tail
        return n, lost

    def _copy(self, off: int, length: int) -> bytes:
        first = self.size - off
        return bytes(self.data[off:]) + bytes(self.data[:length - first])

    def close(self) -> None:
        for v in (self.words, self.q, self.data, self.head_tail):
            v.release()
        self.mm.close()
        self.fd.close()


class PerfBuffer:
    """Reads a perf event array map: ``poll(timeout_ms)`` calls ``on_sample(cpu, data)``
    for each record (``data`` is a zero-copy view, released when the callback returns) and
    ``on_lost(cpu, count)`` for drops; ``lost`` totals the drops.  Without ``on_sample``,
    ``read()`` returns the records instead, as :class:`~pybpf.ringbuf.RingBuffer` does.

    The kernel reports drops in a record it writes before the next sample that fits, so
    a count arrives once that CPU's ring has room and produces again."""

    def __init__(self, map, on_sample: SampleCallback | None = None,
                 on_lost: LostCallback | None = None,
                 page_cnt: int = 8):
        if page_cnt <= 0 or page_cnt & (page_cnt - 1):
            raise ValueError("page_cnt must be a power of two")
        # a perf buffer writes its event fds into the map: anything else would be corrupted
        errors.expect_map_type(map, 4, "a perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY)")
        self.on_sample, self.on_lost = on_sample, on_lost
        self.lost = 0
        self._rings: list[_CpuRing] = []
        self._epoll = select.epoll()
        map_fd = map.fileno()
        max_entries = getattr(map, "max_entries", None)
        try:
            for cpu in possible_cpus():
                if max_entries is not None and cpu >= max_entries:
                    break
                try:
                    ring = _CpuRing(cpu, page_cnt)
                except errors.NotFoundError:
                    continue  # possible but offline CPU
                self._rings.append(ring)
                self._epoll.register(ring.fd.fileno(), select.EPOLLIN)
                key, val = ctypes.c_uint32(cpu), ctypes.c_uint32(ring.fd.fileno())
                syscall.bpf(Cmd.MAP_UPDATE_ELEM, attr.MapElem(
                    map_fd=map_fd, key=ctypes.addressof(key), value=ctypes.addressof(val)),
                    detail=f"perf event array slot {cpu}")
        except BaseException:
            self.close()
            raise

    def poll(self, timeout_ms: int = -1) -> int:
        """Wait for data on any CPU, then drain every ring; returns the samples read."""
        self._wait(timeout_ms)
        return self.consume()

    def _wait(self, timeout_ms: int) -> None:
        try:
            self._epoll.poll(timeout_ms / 1000 if timeout_ms >= 0 else -1)
        except InterruptedError:
            pass

    def read(self, timeout_ms: int = -1, decode=None) -> list[tuple[int, object]]:
        """Wait up to ``timeout_ms``, then return every ready sample as (cpu, value),
        decoded in one batch (see :func:`pybpf.records.decoder`); lost samples still go
        to ``on_lost`` and ``lost``."""
        from .records import decoder
        conv = decoder(decode)
        out: list = []
        self._wait(timeout_ms)
        self.consume(lambda cpu, data: out.append((cpu, conv(data))))
        return out

    def consume(self, on_sample: SampleCallback | None = None) -> int:
        """Drain every ring without waiting (samples to ``on_sample``, else the reader's
        own callback)."""
        on_sample = on_sample or self.on_sample
        if on_sample is None:
            raise TypeError("this PerfBuffer has no on_sample callback: give one, or use "
                            "read()")
        total = 0
        for ring in self._rings:
            n, lost = ring.read(on_sample, self.on_lost)
            total += n
            self.lost += lost
        return total

    def fileno(self) -> int:
        return self._epoll.fileno()

    def close(self) -> None:
        for ring in self._rings:
            ring.close()
        self._rings.clear()
        if not self._epoll.closed:
            self._epoll.close()

    def __enter__(self) -> "PerfBuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
