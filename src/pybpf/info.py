"""What the kernel knows about loaded objects: ids, fds by id, and info by fd.

Covers BPF_{PROG,MAP,BTF,LINK}_GET_NEXT_ID, *_GET_FD_BY_ID and
BPF_OBJ_GET_INFO_BY_FD, the calls ``bpftool prog/map/link list`` are built on.
"""

from __future__ import annotations

import ctypes

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
    """A new fd for the object with this id (NotFoundError if it is gone)."""
    return FD(syscall.bpf(_BY_ID[kind], attr.GetId(id=obj_id, open_flags=flags),
                          detail=f"{kind} id {obj_id}"))


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


def get_info(fd: int, kind: Kind):
    """Info for an fd of a known kind."""
    return {"prog": prog_info, "map": map_info, "link": link_info, "btf": btf_info}[kind](fd)


def list_objects(kind: Kind) -> list:
    """Info for every loaded object of a kind (objects that vanish meanwhile are skipped)."""
    out = []
    for i in ids(kind):
        try:
            with fd_by_id(kind, i) as fd:
                out.append(get_info(fd.fileno(), kind))
        except errors.NotFoundError:
            continue
    return out
