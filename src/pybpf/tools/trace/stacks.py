"""trace's -K/-U stacks: the C that takes them, and their frames as bcc's trace prints
them (``-a``: the address before each frame).

With ``-s FILE,...`` user stacks are taken as build-id frames (the kernel's
``BPF_F_STACK_BUILD_ID``: each frame is a binary's GNU build-id and a file offset, not an
address), and resolved against the symbols of the files given.  That names the frames of
processes that are gone by the time the event is read (a short-lived command), whose
address maps can no longer be read.  A frame whose build-id the kernel could not read
(its page not in memory) comes as an address and is resolved through the process, as
without -s.
"""

from __future__ import annotations

from .._stacks import _MACHINERY

TAKE = "\ttake_stacks(ctx, &e->st);\n"

STACKS = """
/* -K/-U: the stack map (a small one: trace keeps no counts by stack) */
#define STACK_ENTRIES 4096
#include "../_stacks.bpf.h"
"""

# -s: user stacks in a map of build-id frames (kernel stacks stay addresses)
BUILD_ID_STACKS = STACKS + """
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, STACK_ENTRIES);
	__uint(map_flags, BPF_F_STACK_BUILD_ID);
	__type(key, __u32);
	__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(struct bpf_stack_build_id));
} build_id_stacks SEC(".maps");
"""

TAKE_BUILD_ID = ("\te->st.user_stack_id = kernel_only ? -1 : "
                 "bpf_get_stackid(ctx, &build_id_stacks, BPF_F_USER_STACK);\n"
                 "\te->st.kernel_stack_id = user_only ? -1 : "
                 "bpf_get_stackid(ctx, &stacks, 0);\n")

def _line(addr: int, text: str, address: bool) -> str:
    return f"{addr:16x} {text}" if address else text


class Frames:
    """Names the frames of a trace event's stacks (``address``: -a)."""

    def __init__(self, obj, address: bool = False, sym_files: list | None = None):
        """``sym_files``: -s's files as ``pybpf.syms.elfsyms.ElfSymbols`` (user stacks
        then come from the build-id map)."""
        from .._stacks import Stacks
        self.stacks = Stacks(obj.maps["stacks"], show_offset=True)
        self.address = address
        self.build_id_map = obj.maps["build_id_stacks"] if sym_files is not None else None
        from ...syms.buildid import BuildIdIndex
        self.by_build_id = BuildIdIndex(sym_files or ())

    def close(self) -> None:
        self.stacks.close()

    def kernel(self, stack_id: int) -> list[str]:
        if stack_id < 0:
            return [str(stack_id)]
        st = self.stacks
        out = []
        for a in st.addresses(stack_id):
            sym = st.syms.kernel(a)
            out.append((a, sym.format(offset=True) if sym else "[unknown]"))
        i = 0
        while i < len(out) and out[i][1].startswith(_MACHINERY):
            i += 1
        return [_line(a, t, self.address) for a, t in out[i:]]

    def user(self, stack_id: int, pid: int) -> list[str]:
        if stack_id < 0:
            return [str(stack_id)]
        if self.build_id_map is not None:
            return self._build_id_frames(stack_id, pid)
        st = self.stacks
        out = []
        for a in st.addresses(stack_id):
            sym = st.syms.user(pid, a)
            out.append(_line(a, sym.format(offset=True) if sym else "[unknown]",
                             self.address))
        return out

    def _build_id_frames(self, stack_id: int, pid: int) -> list[str]:
        from ...syms import buildid
        out: list[str] = []
        for status, bid, value in buildid.frames(self.build_id_map.lookup_raw(stack_id)):
            if status == buildid.VALID:
                text = self.by_build_id.format(bid, value)
            else:           # the build id was not readable: an address in the process
                sym = self.stacks.syms.user(pid, value)
                text = sym.format(offset=True) if sym else "[unknown]"
            out.append(_line(value, text, self.address))
        return out
