"""Stack printing for the tools (kernel and user frames, bcc's spelling and folded
output for flame graphs) on pybpf.syms.Symbolizer; with ``lines`` user frames carry
``(file:line)`` and the functions inlined at them where the binary has debug info."""

from __future__ import annotations

import os
import struct

MAX_DEPTH = 127          # PERF_MAX_STACK_DEPTH
_MACHINERY = ("bpf_prog_", "bpf_trace_run", "__traceiter_", "__bpf_trace_", "perf_trace_",
              "bpf_get_stackid", "bpf_overflow_handler", "__perf_event_overflow")


class Stacks:
    """Reads a BPF_MAP_TYPE_STACK_TRACE map and names its frames."""

    def __init__(self, stack_map, show_offset: bool = False, lines: bool = False,
                 address: tuple[str, str] | None = None, module: bool = False):
        """``address``: formats of a raw address printed before each kernel and user
        frame (profile -A, stackcount -v), or None; ``module``: each frame ends in
        ``[its binary's base name]`` (``[kernel]`` for vmlinux), as bcc's memleak."""
        from ..syms import Symbolizer
        self.map = stack_map
        self.syms = Symbolizer(lines=lines)
        self.offset, self.lines = show_offset, lines
        self.address = address
        self.module = module
        self._cache: dict[int, list[int]] = {}

    def close(self) -> None:
        """Close the debug-info files ``lines`` opened (idempotent)."""
        self.syms.close()

    def __enter__(self) -> Stacks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def addresses(self, stack_id: int) -> list[int]:
        if stack_id < 0:
            return []
        if stack_id not in self._cache:
            raw = self.map.lookup_raw(stack_id)
            if raw is None:
                self._cache[stack_id] = []
            else:
                n = len(raw) // 8
                addrs = struct.unpack(f"<{n}Q", raw[:n * 8])
                self._cache[stack_id] = [a for a in addrs if a]
        return self._cache[stack_id]

    def kernel(self, stack_id: int) -> list[str]:
        """Kernel frames, innermost first, without the tracing machinery's own frames
        on top (the BPF program and the tracepoint's call into it)."""
        pairs = self._kernel_pairs(stack_id)
        if self.address:
            return [self.address[0] % a + f for a, f in pairs]
        return [f for _, f in pairs]

    def kernel_addresses(self, stack_id: int) -> list[int]:
        """The addresses of :meth:`kernel`'s frames (for JSON's raw addresses)."""
        return [a for a, _ in self._kernel_pairs(stack_id)]

    def _kernel_pairs(self, stack_id: int) -> list[tuple[int, str]]:
        pairs = []
        for a in self.addresses(stack_id):
            sym = self.syms.kernel(a)
            name = sym.format(offset=self.offset) if sym else "[unknown]"
            if sym and self.module:
                name += f" [{os.path.basename(sym.module or 'kernel')}]"
            pairs.append((a, name))
        i = 0
        while i < len(pairs) and pairs[i][1].startswith(_MACHINERY):
            i += 1
        return pairs[i:]

    def user(self, stack_id: int, pid: int) -> list[str]:
        """User frames, innermost first; with ``lines`` a frame's inlined functions come
        before it (innermost first too), each ``name (file:line) (inlined)``."""
        from ..syms import frames
        out: list[str] = []
        for a in self.addresses(stack_id):
            sym = self.syms.user(pid, a)
            at = len(out)
            if sym is None:
                out.append("[unknown]")
            elif self.lines:
                out += frames(sym, a, offset=self.offset, lines=True)
            else:
                out.append(sym.format(offset=self.offset))
                if self.module and sym.module:
                    out[-1] += f" [{os.path.basename(sym.module)}]"
            if self.address:
                out[at] = self.address[1] % a + out[at]
        return out

    def clear(self) -> None:
        """Forget the ids read (the map is cleared with the counts, per interval)."""
        for sid in self._cache:
            try:
                del self.map[sid]
            except KeyError:
                pass
        self._cache.clear()


def folded(comm: str, user: list[str], kernel: list[str], delimiter: bool = False,
           annotate: bool = False) -> str:
    """One flame-graph line: ``comm;user frames outermost first;-;kernel frames``;
    ``annotate`` (profile -a): kernel frames end in ``_[k]``, as flame graphs colour them."""
    parts = [comm] + list(reversed(user))
    if delimiter and user and kernel:
        parts.append("-")
    parts += [f + "_[k]" if annotate and not f.startswith("[Missed") else f
              for f in reversed(kernel)]
    return ";".join(p.replace(";", "_") for p in parts)


def print_stack(w, user: list[str], kernel: list[str], comm: str, pid: int,
                count_line: str, delimiter: bool = False) -> None:
    """bcc's multi-line stack: kernel frames, a ``--`` between, user frames, then
    ``-                comm (pid)`` and the count."""
    for f in kernel:
        w(f"    {f}\n")
    if delimiter and kernel and user:
        w("    --\n")
    for f in user:
        w(f"    {f}\n")
    w(f"    {'-':<16} {comm} ({pid})\n")
    w(f"        {count_line}\n\n")
