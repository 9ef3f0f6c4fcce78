"""bpffs: mount it when absent, pin objects to it, and open pinned objects."""

from __future__ import annotations

import ctypes
import os

from . import errors
from ._sys import attr, syscall
from ._sys.uapi import Cmd
from .fd import FD

DEFAULT_ROOT = "/sys/fs/bpf"
BPF_FS_MAGIC = 0xCAFE4A11

_libc = ctypes.CDLL(None, use_errno=True)


class _Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_long * 15)]


def fs_type(path: str) -> int:
    """The filesystem magic of the fs holding ``path`` (statfs(2))."""
    st = _Statfs()
    if _libc.statfs(os.fsencode(path), ctypes.byref(st)) != 0:
        err = ctypes.get_errno()
        raise errors.from_errno(err, "statfs", path)
    return st.f_type & 0xFFFFFFFF


def mount(target: str, fstype: str, source: str = "none") -> None:
    """mount(2) a pseudo filesystem at ``target``."""
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), 0, None) != 0:
        err = ctypes.get_errno()
        raise errors.from_errno(err, "mount", f"{fstype} on {target}")


def ensure_mounted(root: str = DEFAULT_ROOT) -> str:
    """Mount bpffs at ``root`` unless it is already there; return ``root``."""
    os.makedirs(root, exist_ok=True)
    if fs_type(root) != BPF_FS_MAGIC:
        mount(root, "bpf", "bpf")
    return root


def pin(fd: int | FD, path: str) -> None:
    """Pin a map, program or link to ``path`` on bpffs (BPF_OBJ_PIN)."""
    p = ctypes.create_string_buffer(os.fsencode(path))
    a = attr.ObjPin(pathname=ctypes.addressof(p), bpf_fd=int(fd))
    parent = os.path.dirname(path) or "."
    if os.path.isdir(parent) and fs_type(parent) != BPF_FS_MAGIC:
        raise errors.NotFoundError(22, "BPF_OBJ_PIN", f"{parent} is not on a bpffs "
                                   f"(mount one: mount -t bpf bpf {DEFAULT_ROOT})")
    syscall.bpf(Cmd.OBJ_PIN, a, detail=path)


def get(path: str, flags: int = 0) -> FD:
    """Open a pinned object (BPF_OBJ_GET); the kind is whatever was pinned there."""
    p = ctypes.create_string_buffer(os.fsencode(path))
    return FD(syscall.bpf(Cmd.OBJ_GET, attr.ObjPin(pathname=ctypes.addressof(p),
                                                    file_flags=flags), detail=path))


def unpin(path: str) -> None:
    """Remove a pin; the object lives on while other references remain."""
    os.unlink(path)
