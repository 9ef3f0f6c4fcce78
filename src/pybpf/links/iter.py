"""BPF iterators: an iter link (BPF_TRACE_ITER) for an iterator program, and reading it:
every BPF_ITER_CREATE gives a fresh seq_file that runs the program over all objects."""

from __future__ import annotations

import io
import os
import struct

from .. import errors
from .._sys import attr, syscall
from .._sys.uapi import AttachType, Cmd
from ..fd import FD
from .base import Link, link_create

__all__ = ["attach", "create", "open", "read", "records", "ORDER_DEFAULT", "ORDER_SELF_ONLY",
           "ORDER_DESCENDANTS_PRE", "ORDER_DESCENDANTS_POST", "ORDER_ANCESTORS_UP"]

# enum bpf_cgroup_iter_order
ORDER_DEFAULT, ORDER_SELF_ONLY, ORDER_DESCENDANTS_PRE = 0, 1, 2
ORDER_DESCENDANTS_POST, ORDER_ANCESTORS_UP = 3, 4
_LINK_INFO_SIZE = 16        # sizeof(union bpf_iter_link_info)


def _link_info(map_fd: int | None, cgroup_fd: int | None, cgroup_id: int | None,
               order: int, tid: int | None, pid: int | None, pid_fd: int | None) -> bytes:
    """union bpf_iter_link_info: .map, .cgroup or .task, whichever the target takes."""
    if map_fd is not None:
        return struct.pack("<I12x", map_fd)
    if cgroup_fd is not None or cgroup_id is not None:
        return struct.pack("<IIQ", order, cgroup_fd or 0, cgroup_id or 0)
    if tid is not None or pid is not None or pid_fd is not None:
        return struct.pack("<III4x", tid or 0, pid or 0, pid_fd or 0)
    return b""


def attach(prog, *, map=None, cgroup_fd: int | None = None, cgroup_id: int | None = None,
           order: int = ORDER_DEFAULT, tid: int | None = None, pid: int | None = None,
           pid_fd: int | None = None) -> Link:
    """Create an iter link for iterator ``prog`` (loaded as TRACING/TRACE_ITER against
    ``bpf_iter_<target>``).  ``map`` parameterizes map-element iterators; cgroup_* and
    ``order`` the cgroup iterator; ``tid``/``pid``/``pid_fd`` narrow task iterators."""
    map_fd = map if isinstance(map, int) or map is None else map.fileno()
    info = _link_info(map_fd, cgroup_fd, cgroup_id, order, tid, pid, pid_fd)
    buf = None
    tail = {}
    if info:
        import ctypes
        buf = ctypes.create_string_buffer(info, _LINK_INFO_SIZE)
        tail["iter"] = attr._LinkTarget._Iter(iter_info=ctypes.addressof(buf),
                                              iter_info_len=_LINK_INFO_SIZE)
    fd = link_create(prog.fileno(), 0, AttachType.TRACE_ITER, what=f"iterator {prog.name}",
                     feature="BPF iterators", **tail)
    return Link(fd, kind="iter", target=prog.name)


def create(link: Link) -> FD:
    """BPF_ITER_CREATE: an fd whose reads run the iterator from the start."""
    return FD(syscall.bpf(Cmd.ITER_CREATE, attr.IterCreate(link_fd=link.fileno()),
                          detail=f"iterator {link.target}"))


def open(link: Link) -> io.BufferedReader:
    """A new binary file reading the iterator's output (close it when done)."""
    fd = create(link)
    # the file object takes over the fd
    raw = os.fdopen(os.dup(fd.fileno()), "rb")
    fd.close()
    return raw


def read(link: Link) -> bytes:
    """The iterator's whole output, from a fresh run."""
    with create(link) as fd:
        chunks = []
        while True:
            try:
                chunk = os.read(fd.fileno(), 1 << 16)
            except OSError as e:
                # E2BIG: one object's output did not fit the seq_file buffer
                raise errors.from_errno(e.errno or 5, "read(iterator)", link.target) from None
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def records(link: Link, decode) -> list:
    """A fresh run's output as fixed-size records (an iterator that ``bpf_seq_write``s one
    struct per object), each decoded as ``decode``: a ctypes type (``pybpf.ctype(...)``)
    or a ``struct.Struct``."""
    import ctypes
    size = getattr(decode, "size", None) or ctypes.sizeof(decode)
    data = read(link)
    if len(data) % size:
        raise errors.PybpfError(f"iterator {link.target}: {len(data)} bytes of output are not "
                                f"whole {size}-byte records")
    from ..records import decoder
    dec = decoder(decode)
    view = memoryview(data)
    return [dec(view[i:i + size]) for i in range(0, len(data), size)]
