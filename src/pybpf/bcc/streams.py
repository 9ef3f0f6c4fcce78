"""The output side of ``BPF``: polling perf and ring buffers and reading trace_pipe, as
bcc's methods of the same names (a mixin; the buffers themselves are opened by tables)."""

from __future__ import annotations

import select

from .. import errors
from .utils import as_str


class StreamsMixin:
    """perf_buffer_poll, ring_buffer_poll, trace_print and friends; the host class keeps
    ``_perf_buffers``, ``_rb`` and ``_pipe``."""

    # -- event streams -----------------------------------------------------------------
    def perf_buffer_poll(self, timeout: int = -1) -> None:
        """Wait up to ``timeout`` ms for any open perf buffer, then run the callbacks."""
        bufs = list(self._perf_buffers.values())
        if not bufs:
            raise errors.PybpfError("no perf buffer is open (call open_perf_buffer first)")
        p = select.poll()
        for b in bufs:
            p.register(b.fileno(), select.POLLIN)
        try:
            p.poll(timeout)
        except InterruptedError:
            pass
        for b in bufs:
            b.consume()

    kprobe_poll = perf_buffer_poll

    def perf_buffer_consume(self) -> None:
        """Run the callbacks of every open perf buffer without waiting."""
        for b in list(self._perf_buffers.values()):
            b.consume()

    def free_bcc_memory(self) -> int:
        """bcc frees LLVM's memory after loading; pybpf keeps none (clang ran apart)."""
        return 0

    def donothing(self) -> None:
        """bcc's no-op timer callback, kept for scripts that pass it."""

    def _ring_buffer(self):
        if self._rb is None:
            from ..ringbuf import RingBuffer
            self._rb = RingBuffer()
        return self._rb

    def ring_buffer_poll(self, timeout: int = -1) -> int:
        if self._rb is None:
            raise errors.PybpfError("no ring buffer is open (call open_ring_buffer first)")
        return self._rb.poll_callbacks(timeout)

    def ring_buffer_consume(self) -> int:
        if self._rb is None:
            raise errors.PybpfError("no ring buffer is open (call open_ring_buffer first)")
        return self._rb.consume_callbacks()

    # -- trace_pipe ----------------------------------------------------------------------
    def _trace_pipe(self):
        if self._pipe is None:
            from ..tracepipe import TracePipe
            self._pipe = TracePipe()
        return self._pipe

    def trace_readline(self, nonblocking: bool = False) -> str | None:
        for line in self._trace_pipe().lines(timeout=0 if nonblocking else None):
            return line.rstrip("\n")
        return None

    def trace_fields(self, nonblocking: bool = False):
        """(task, pid, cpu, flags, ts, msg) of the next bpf_trace_printk line; task, flags
        and msg are bytes, as in bcc."""
        from ..tracepipe import parse
        while True:
            line = self.trace_readline(nonblocking)
            if line is None:
                return (None,) * 6
            ev = parse(line)
            if ev is None:
                if nonblocking:
                    return (None,) * 6
                continue
            return (ev.task.encode(), ev.pid, ev.cpu, ev.flags.encode(), ev.ts,
                    ev.msg.encode())

    def trace_print(self, fmt=None) -> None:
        """Print trace_pipe lines (formatted with ``fmt.format(*fields)`` when given)
        until interrupted."""
        while True:
            if fmt:
                fields = self.trace_fields()
                line = as_str(fmt).format(*(as_str(x) if isinstance(x, bytes) else x
                                            for x in fields))
            else:
                line = self.trace_readline()
            print(line, flush=True)
