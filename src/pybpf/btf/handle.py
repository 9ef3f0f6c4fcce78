"""Load BTF into the kernel (BPF_BTF_LOAD) and ask about loaded BTF."""

from __future__ import annotations

import ctypes

from .. import errors
from .._sys import attr, syscall
from .._sys.uapi import Cmd
from ..fd import FD


def load_btf(blob: bytes, log_level: int = 0) -> FD:
    """An fd for ``blob`` loaded as BTF; a rejection raises BTFError with the kernel's log."""
    buf = ctypes.create_string_buffer(blob, len(blob))
    a = attr.BtfLoad(btf=ctypes.addressof(buf), btf_size=len(blob))
    try:
        return FD(syscall.bpf(Cmd.BTF_LOAD, a))
    except errors.MissingPrivilegeError:
        raise
    except errors.KernelError as first:
        log = ctypes.create_string_buffer(1 << 20)
        a = attr.BtfLoad(btf=ctypes.addressof(buf), btf_size=len(blob),
                         btf_log_buf=ctypes.addressof(log), btf_log_size=len(log),
                         btf_log_level=max(1, log_level))
        try:
            return FD(syscall.bpf(Cmd.BTF_LOAD, a))
        except errors.KernelError:
            text = log.value.decode(errors="replace").strip()
            raise errors.BTFError(f"the kernel rejected the BTF ({first.strerror}):\n"
                                  f"{text}") from None


def btf_info(fd: int):
    from ..info import btf_info as _info
    return _info(fd)


def module_btf_fds(name: str | None = None):
    """(module name, BTF fd) of each loaded kernel module with BTF (only ``name`` if
    given); the caller owns and closes the fds it keeps."""
    from ..info import btf_info as _info, fd_by_id, ids
    for btf_id in ids("btf"):
        try:
            fd = fd_by_id("btf", btf_id)
        except errors.NotFoundError:
            continue
        i = _info(fd.fileno())
        if i.kernel and i.name != "vmlinux" and (name is None or i.name == name):
            yield i.name, fd
        else:
            fd.close()
