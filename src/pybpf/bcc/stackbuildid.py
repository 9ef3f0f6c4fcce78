"""bcc's build-id stacks: ``BPF_STACK_TRACE_BUILDID``'s ``walk()``, ``add_module`` and
``sym()`` of a build-id frame.

``walk(stack_id)`` on such a table yields ``bpf_stack_build_id`` ctypes structures (as
bcc's do: scripts pass them to ``b.sym(frame, pid)``); ``add_module(path)`` remembers a
file's build id (from its ``.note.gnu.build-id``) so ``sym`` can name its frames.  bcc
stops a walk at the first frame whose build id the kernel could not read; pybpf yields it
too, and ``sym`` names it by address through the process, as a plain stack's frame.
"""

from __future__ import annotations

import ctypes
import os
import sys

from .. import errors
from ..syms import buildid


class _OffsetOrIp(ctypes.Union):
    _fields_ = [("offset", ctypes.c_uint64), ("ip", ctypes.c_uint64)]


class bpf_stack_build_id(ctypes.Structure):         # noqa: N801 - bcc's (and the kernel's) name
    """One frame: ``status`` (0 empty, 1 build id + file offset, 2 address only),
    ``build_id``, and ``offset`` (or ``ip``) in the anonymous union."""
    _anonymous_ = ("u",)
    _fields_ = [("status", ctypes.c_int32), ("build_id", ctypes.c_ubyte * 20),
                ("u", _OffsetOrIp)]


def walk(raw: bytes | None, resolve=None):
    """The frames of one raw stack-map value (``resolve`` maps each, as in bcc)."""
    for status, bid, value in buildid.frames(raw or b""):
        f = bpf_stack_build_id(status=status)
        ctypes.memmove(f.build_id, bid, 20)
        f.offset = value
        yield resolve(f) if resolve else f


def add_module(owner, modname) -> bool:
    """Index ``modname``'s build id on ``owner`` (a BPF instance or the class); a file that
    cannot be read is reported on one line, as bcc does, and is not an error."""
    path = modname.decode() if isinstance(modname, (bytes, bytearray)) else str(modname)
    index = getattr(owner, "_bsyms", None)      # an instance falls back to the class's
    if index is None:
        index = owner._bsyms = buildid.BuildIdIndex()
    try:
        ok = index.add_path(path)
    except errors.ELFError as e:
        print(f"Error adding module to build sym cache: {e}", file=sys.stderr)
        return False
    if not ok:
        print(f"Error adding module to build sym cache: {path}: no GNU build id",
              file=sys.stderr)
    return ok


def sym(owner, frame, pid: int, show_module: bool, show_offset: bool) -> bytes:
    """bcc's ``BPF.sym`` of a build-id frame: the function in a file added with
    ``add_module``, ``[unknown]`` otherwise; an address-only frame is named through
    ``pid``."""
    if frame.status == buildid.IP:
        return owner.sym(frame.ip, pid, show_module, show_offset)
    index = getattr(owner, "_bsyms", None)
    hit = index.resolve(bytes(frame.build_id), frame.offset) if index is not None else None
    name, off, module = hit if hit is not None else (None, frame.offset, None)
    out = name.encode(errors="surrogateescape") if name else b"[unknown]"
    if show_offset and name:
        out += b"+0x%x" % off
    if show_module and module:
        out += b" [%s]" % os.fsencode(os.path.basename(module))
    return out
