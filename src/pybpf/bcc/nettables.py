"""bcc's table classes for maps whose values are references (devices, CPUs, sockets,
cgroups): ``b["tx_port"][0] = ct.c_int(ifindex)``, ``b["cpumap"][cpu] = ct.c_uint32(qsize)``.

The kernel takes a descriptor or an index as the value and keeps the object it names;
deleting an entry removes the reference (it does not zero a slot, as in an array).
"""

from __future__ import annotations

import ctypes
import os

from .._sys.uapi import MapType
from .table import Array, Table


class RefArray(Array):
    """Index-keyed maps of references (devmap, cpumap, xskmap, sockmap)."""

    def _leaf_in(self, v):
        if hasattr(v, "fileno"):            # a socket or file object: its descriptor
            v = v.fileno()
        return super()._leaf_in(v)

    def __delitem__(self, key) -> None:
        Table.__delitem__(self, key)

    def clear(self) -> None:
        for i in range(self.max_entries):
            try:
                Table.__delitem__(self, i)
            except KeyError:
                pass

    zero = clear


class DevMap(RefArray):
    """XDP redirect targets by index: the value is an ifindex."""


class CpuMap(RefArray):
    """XDP redirect to CPUs: the value is the CPU's queue size (0 removes it)."""


class XskMap(RefArray):
    """AF_XDP sockets by receive queue: the value is the socket's descriptor."""


class SockMap(RefArray):
    """Sockets by index: the value is the socket's descriptor."""


class SockHash(Table):
    """Sockets by a key of the program's choosing: the value is the socket's descriptor.
    The kernel shows a socket to user space only as its cookie, through an 8-byte value:
    with bcc's 4-byte values a lookup fails (ENOSPC), so keys are listed without one."""

    def _leaf_in(self, v):
        if hasattr(v, "fileno"):
            v = v.fileno()
        return super()._leaf_in(v)

    def keys(self):
        return [self.Key.from_buffer_copy(k) for k in self.map._raw_keys()]

    def __len__(self) -> int:
        return sum(1 for _ in self.map._raw_keys())


class CgroupArray(RefArray):
    """cgroups by index: ``t[i] = "/sys/fs/cgroup/x"`` (a path) or an open descriptor."""

    def __setitem__(self, key, leaf) -> None:
        if isinstance(leaf, (str, bytes)):
            fd = os.open(leaf, os.O_RDONLY)
            try:
                super().__setitem__(key, ctypes.c_int(fd))
            finally:
                os.close(fd)
            return
        super().__setitem__(key, leaf)


CLASSES = {MapType.DEVMAP: DevMap, MapType.CPUMAP: CpuMap, MapType.XSKMAP: XskMap,
           MapType.SOCKMAP: SockMap, MapType.SOCKHASH: SockHash, MapType.CGROUP_ARRAY: CgroupArray}
