"""What the kernel knows about loaded objects: ids, fds by id, and info by fd.

Covers BPF_{PROG,MAP,BTF,LINK}_GET_NEXT_ID, *_GET_FD_BY_ID and
BPF_OBJ_GET_INFO_BY_FD, the calls ``bpftool prog/map/link list`` are built on.
"""

from __future__ import annotations

import ctypes
import os
import time

from . import errors
from ._record import named_tuple
from ._sys import attr, syscall
from ._sys.uapi import Cmd, LinkType, MapType, ProgType
from .fd import FD

TYPE_CHECKING = False
if TYPE_CHECKING:          # collections costs a tool's start ~1 ms; annotations only
    from collections.abc import Iterator

Kind = str   # "prog", "map", "btf" or "link"

_NEXT = {"prog": Cmd.PROG_GET_NEXT_ID, "map": Cmd.MAP_GET_NEXT_ID,
         "btf": Cmd.BTF_GET_NEXT_ID, "link": Cmd.LINK_GET_NEXT_ID}
_BY_ID = {"prog": Cmd.PROG_GET_FD_BY_ID, "map": Cmd.MAP_GET_FD_BY_ID,
          "btf": Cmd.BTF_GET_FD_BY_ID, "link": Cmd.LINK_GET_FD_BY_ID}


def ids(kind: Kind) -> Iterator[int]:
    """Ids of every loaded object of a kind, in increasing order."""
    a = attr.GetId()
    while True:
        try:
            syscall.bpf(_NEXT[kind], a)
        except errors.NotFoundError:
            return
        yield a.next_id
        a.id = a.next_id


def fd_by_id(kind: Kind, obj_id: int, flags: int = 0) -> FD:
    """A new fd for the object with this id (NotFoundError if it is gone).  A map's fd
    closes late if it is a prog_array (see :class:`MapByIdFD`)."""
    fd = syscall.bpf(_BY_ID[kind], attr.GetId(id=obj_id, open_flags=flags),
                     detail=f"{kind} id {obj_id}")
    return MapByIdFD(fd) if kind == "map" else FD(fd)


# Kernel quirk (reproduced on 6.18; the code is years old): when the last user reference of a
# prog_array goes (its last fd or pin), the kernel takes a map reference and queues a
# work item that empties the array and drops that reference (arraymap.c,
# prog_array_map_clear).  Opening the map by id gives it a user reference again; if that
# fd is closed before the queued work has started, the second queueing finds the work
# still pending, and the reference taken for it is never dropped: the array, emptied,
# lives on with no fd, pin or program holding it.  Holding such an fd this long gives the
# pending work time to run first, so the close queues a fresh, balanced one.
PROG_ARRAY_HOLD = 0.2


class MapByIdFD(FD):
    """A map fd opened by id: ``close()`` waits until it has been open for
    :data:`PROG_ARRAY_HOLD` seconds if the map is a prog_array (see the note above), so
    that looking at a just-closed array cannot keep it alive forever."""

    __slots__ = ("opened",)

    def __init__(self, fd: int, opened: float | None = None):
        super().__init__(fd)
        self.opened = time.monotonic() if opened is None else opened

    def close(self) -> None:
        if self._fd >= 0:
            wait = self.opened + PROG_ARRAY_HOLD - time.monotonic()
            if wait > 0 and _is_prog_array(self._fd):
                time.sleep(wait)      # sleeping also lets this CPU's kworker run
        super().close()

    def dup(self) -> "MapByIdFD":
        import os
        return MapByIdFD(os.dup(self.fileno()), self.opened)


def _is_prog_array(fd: int) -> bool:
    try:
        return map_info(fd).type == MapType.PROG_ARRAY
    except errors.PybpfError:
        return True       # unknown: hold it, to be safe


def _info(fd: int, info: ctypes.Structure) -> ctypes.Structure:
    a = attr.InfoByFd(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    syscall.bpf(Cmd.OBJ_GET_INFO_BY_FD, a)
    return info


# Plain named tuples (not dataclasses, not collections.namedtuple): importing either costs
# milliseconds of every tool's start-up.
class ProgInfo(named_tuple("ProgInfo", "id type name tag btf_id map_ids xlated_len jited_len "
                                      "run_cnt run_time_ns verified_insns")):
    __slots__ = ()

    @property
    def type_name(self) -> str:
        try:
            return ProgType(self.type).name.lower()
        except ValueError:
            return str(self.type)


def prog_info(fd: int) -> ProgInfo:
    """Info about a loaded program, with its map ids."""
    info = _info(fd, attr.ProgInfo())
    n = info.nr_map_ids
    map_ids: tuple[int, ...] = ()
    if n:
        arr = (ctypes.c_uint32 * n)()
        again = attr.ProgInfo(nr_map_ids=n, map_ids=ctypes.addressof(arr))
        _info(fd, again)
        map_ids = tuple(arr[: again.nr_map_ids])
    return ProgInfo(info.id, info.type, info.name.decode(errors="replace"),
                    bytes(info.tag).hex(), info.btf_id, map_ids, info.xlated_prog_len,
                    info.jited_prog_len, info.run_cnt, info.run_time_ns, info.verified_insns)


def prog_misses(fd: int) -> int:
    """How many times the kernel skipped the program instead of running it: a tracing
    program is not run while another one is running on that CPU (say an interrupt comes
    in during a syscall tracepoint's program), and counts a miss instead."""
    return int(_info(fd, attr.ProgInfo()).recursion_misses)


def prog_xlated(fd: int) -> bytes:
    """The program as the kernel translated it (what ``bpftool prog dump xlated`` shows)."""
    info = _info(fd, attr.ProgInfo())
    size = info.xlated_prog_len
    buf = (ctypes.c_uint8 * size)()
    _info(fd, attr.ProgInfo(xlated_prog_len=size, xlated_prog_insns=ctypes.addressof(buf)))
    return bytes(buf)


class MapInfo(named_tuple("MapInfo",
                         "id type name key_size value_size max_entries flags btf_id")):
    __slots__ = ()

    @property
    def type_name(self) -> str:
        try:
            return MapType(self.type).name.lower()
        except ValueError:
            return str(self.type)


def map_info(fd: int) -> MapInfo:
    i = _info(fd, attr.MapInfo())
    return MapInfo(i.id, i.type, i.name.decode(errors="replace"), i.key_size, i.value_size,
                   i.max_entries, i.map_flags, i.btf_id)


class LinkInfo(named_tuple("LinkInfo", "id type prog_id")):
    __slots__ = ()

    @property
    def type_name(self) -> str:
        try:
            return LinkType(self.type).name.lower()
        except ValueError:
            return str(self.type)


def link_info(fd: int) -> LinkInfo:
    i = _info(fd, attr.LinkInfo())
    return LinkInfo(i.id, i.type, i.prog_id)


class BtfInfo(named_tuple("BtfInfo", "id size name kernel")):
    __slots__ = ()


def btf_info(fd: int) -> BtfInfo:
    name = ctypes.create_string_buffer(64)
    i = _info(fd, attr.BtfInfo(name=ctypes.addressof(name), name_len=64))
    return BtfInfo(i.id, i.btf_size, name.value.decode(errors="replace"), bool(i.kernel_btf))


def btf_data(fd: int) -> bytes:
    """The raw BTF the kernel holds behind a BTF fd (a loaded program's BTF, say)."""
    size = _info(fd, attr.BtfInfo()).btf_size
    buf = ctypes.create_string_buffer(size)
    _info(fd, attr.BtfInfo(btf=ctypes.addressof(buf), btf_size=size))
    return buf.raw[:size]


def held_ids(pid: int | str, kind: Kind) -> set[int]:
    """Ids of the objects of a kind ("prog", "map" or "link") process ``pid`` holds an fd
    of, from its /proc/PID/fdinfo (bpftool's pids column, the other way round).  A link's
    fdinfo names its program too: only fds of the kind itself count."""
    found = set()
    want_type, want_id = f"{kind}_type:".encode(), f"{kind}_id:".encode()
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except FileNotFoundError:
        raise errors.NotFoundError(2, "held_ids", f"no process {pid}") from None
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}", "rb") as f:
                lines = f.read().splitlines()
        except OSError:             # closed meanwhile
            continue
        if any(ln.startswith(want_type) for ln in lines):
            for ln in lines:
                if ln.startswith(want_id):
                    found.add(int(ln[len(want_id):]))
    return found


def get_info(fd: int, kind: Kind):
    """Info for an fd of a known kind."""
    return {"prog": prog_info, "map": map_info, "link": link_info, "btf": btf_info}[kind](fd)


def list_objects(kind: Kind) -> list:
    """Info for every loaded object of a kind (objects that vanish meanwhile are skipped)."""
    out = []
    held = []       # prog_arrays: closed together at the end, after one hold
    try:
        for i in ids(kind):
            try:
                fd = fd_by_id(kind, i)
            except errors.NotFoundError:
                continue
            try:
                out.append(get_info(fd.fileno(), kind))
            except errors.NotFoundError:
                fd.close()
                continue
            except BaseException:
                fd.close()
                raise
            if kind == "map" and out[-1].type == MapType.PROG_ARRAY:
                held.append(fd)
            else:
                fd.close()
    finally:
        for fd in held:
            fd.close()
    return out
