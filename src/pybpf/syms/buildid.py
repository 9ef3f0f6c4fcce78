"""Stack frames given as (GNU build id, file offset), named through known ELF files.

A ``BPF_F_STACK_BUILD_ID`` stack map stores each user frame as ``struct bpf_stack_build_id``
(status, the binary's 20-byte build id, the frame's offset in that file) instead of an
address.  That names frames of processes gone by the time the map is read, but only
against binaries whose build ids are known beforehand: :class:`BuildIdIndex` holds them.
When the kernel could not read a frame's build id (the note's page not in memory) the frame
comes as a plain address (status ``IP``), to be named through the process as usual.
Used by ``trace -s`` and by the bcc front end (``BPF_STACK_TRACE_BUILDID``, ``add_module``).
"""

from __future__ import annotations

import os
import struct

FRAME = struct.Struct("<i20sQ")            # struct bpf_stack_build_id
EMPTY, VALID, IP = 0, 1, 2                 # BPF_STACK_BUILD_ID_EMPTY / _VALID / _IP


def frames(raw: bytes):
    """(status, build_id, offset-or-ip) of each frame of a raw map value, up to the first
    empty one."""
    for k in range(len(raw or b"") // FRAME.size):
        status, bid, value = FRAME.unpack_from(raw, k * FRAME.size)
        if status not in (VALID, IP):
            return
        yield status, bid, value


class BuildIdIndex:
    """ELF files (``pybpf.syms.elfsyms.ElfSymbols``) by build id."""

    def __init__(self, files=()):
        self._by_id: dict[bytes, object] = {}
        for elf in files:
            self.add(elf)

    def add(self, elf) -> bool:
        """Index one file; False when it has no build id."""
        if not elf.build_id:
            return False
        self._by_id[bytes.fromhex(elf.build_id)] = elf
        return True

    def add_path(self, path: str) -> bool:
        """Read and index the file at ``path`` (ELFError when unreadable or not ELF)."""
        from .elfsyms import ElfSymbols
        return self.add(ElfSymbols(path))

    def __len__(self) -> int:
        return len(self._by_id)

    def resolve(self, build_id: bytes, offset: int) -> tuple[str | None, int, str] | None:
        """(function, offset in it, file path) of a frame; the function is None when the
        file is known but no symbol covers the offset (the offset then is the file's);
        None when no indexed file has this build id."""
        elf = self._by_id.get(bytes(build_id))
        if elf is None:
            return None
        vaddr = elf.offset_to_vaddr(offset)
        hit = elf.lookup(vaddr) if vaddr is not None else None
        if hit is None:
            return None, offset, elf.path
        return hit[0], hit[1], elf.path

    def format(self, build_id: bytes, offset: int) -> str:
        """``name+0x1a [file]`` as trace prints a frame; the file and offset when no symbol
        covers it, the build id when the file is unknown."""
        hit = self.resolve(build_id, offset)
        if hit is None:
            return f"[unknown] [build-id {bytes(build_id).hex()}+0x{offset:x}]"
        name, off, path = hit
        base = os.path.basename(path)
        if name is None:
            return f"[unknown] [{base}+0x{off:x}]"
        return f"{name}+0x{off:x} [{base}]"
