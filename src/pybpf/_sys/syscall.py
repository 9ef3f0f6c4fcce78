"""Raw system calls pybpf needs: bpf(2), perf_event_open(2), ioctl(2), close(2).

Each call turns a failure into a typed error from :mod:`pybpf.errors`, so no
caller ever inspects errno itself.
"""

from __future__ import annotations

import ctypes
import os

from .. import errors
from .uapi import Cmd

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_ioctl = _libc.ioctl
_ioctl.restype = ctypes.c_int

# Syscall numbers differ by architecture (arch/*/include/uapi/asm/unistd*.h).
_NR = {
    "x86_64": {"bpf": 321, "perf_event_open": 298},
    "aarch64": {"bpf": 280, "perf_event_open": 241},
    "riscv64": {"bpf": 280, "perf_event_open": 241},
    "s390x": {"bpf": 351, "perf_event_open": 331},
    "ppc64le": {"bpf": 361, "perf_event_open": 319},
}
_ARCH = os.uname().machine
try:
    NR_BPF = _NR[_ARCH]["bpf"]
    NR_PERF_EVENT_OPEN = _NR[_ARCH]["perf_event_open"]
except KeyError:  # pragma: no cover - exotic architecture
    NR_BPF = NR_PERF_EVENT_OPEN = -1


def addr(obj) -> int:
    """Address of a ctypes object or buffer, as the u64 the kernel wants (0 for None)."""
    if obj is None:
        return 0
    return ctypes.addressof(obj)


def bpf(cmd: Cmd, attr: ctypes.Structure, *, detail: str = "",
        feature: str | None = None) -> int:
    """Call bpf(cmd, &attr, sizeof attr); return the result or raise a typed error.

    EINTR and EAGAIN from BPF_PROG_LOAD are retried, as libbpf does: the
    verifier can be interrupted by a signal on a large program.
    """
    if NR_BPF < 0:
        raise errors.NotSupportedError("bpf(2)", f"unknown syscall number for {_ARCH}")
    size = ctypes.sizeof(attr)
    ref = ctypes.byref(attr)
    for _ in range(5):
        ret = _syscall(NR_BPF, ctypes.c_int(int(cmd)), ref, ctypes.c_uint(size))
        if ret >= 0:
            return ret
        err = ctypes.get_errno()
        if err == 4 or (err == 11 and cmd == Cmd.PROG_LOAD):  # EINTR, EAGAIN
            continue
        break
    if err == 1 and (cmd == Cmd.MAP_CREATE or cmd == Cmd.PROG_LOAD):  # EPERM
        from . import memlock
        if memlock.charges_memlock():
            # before 5.11 a map or program past RLIMIT_MEMLOCK fails with EPERM
            if memlock.raise_limit():
                return bpf(cmd, attr, detail=detail, feature=feature)
            detail = f"{detail}; {memlock.hint()}" if detail else memlock.hint()
    if err == 38:  # ENOSYS: the kernel was built without CONFIG_BPF_SYSCALL
        raise errors.NotSupportedError("bpf(2)", "the kernel has no bpf syscall", err,
                                       f"BPF_{_cmd_name(cmd)}")
    raise errors.from_errno(err, f"BPF_{_cmd_name(cmd)}", detail, feature)


def bpf_prepared(cmd: int, attr: ctypes.Structure, ref, size: int) -> int:
    """bpf(2) for hot loops (map element ops): ``ref``/``size`` are the caller's cached
    ``byref(attr)``/``sizeof(attr)``.  Any failure goes through :func:`bpf` again, for its
    retries and typed errors, so use it only for commands that are safe to repeat."""
    ret = _syscall(NR_BPF, cmd, ref, size)
    if ret >= 0:
        return ret
    return bpf(cmd, attr)


def bpf_prepared_found(cmd: int, attr: ctypes.Structure, ref, size: int) -> bool:
    """:func:`bpf_prepared` for element lookups that may miss: False when the key is absent
    (ENOENT), with no error object built (a missed lookup is a common answer, not a
    failure); other failures raise as from :func:`bpf`."""
    if _syscall(NR_BPF, cmd, ref, size) >= 0:
        return True
    if ctypes.get_errno() == 2:     # ENOENT
        return False
    try:
        bpf(cmd, attr)              # its retries (EINTR) and typed errors
    except errors.NotFoundError:
        return False
    return True


def _cmd_name(cmd: int) -> str:
    return Cmd.name_of(cmd) or f"cmd {cmd}"


def perf_event_open(attr: ctypes.Structure, pid: int, cpu: int, group_fd: int = -1,
                    flags: int = 0, *, detail: str = "") -> int:
    """perf_event_open(2); returns the new fd."""
    ret = _syscall(NR_PERF_EVENT_OPEN, ctypes.byref(attr), ctypes.c_int(pid),
                   ctypes.c_int(cpu), ctypes.c_int(group_fd), ctypes.c_ulong(flags))
    if ret < 0:
        err = ctypes.get_errno()
        if err in (1, 13):
            raise errors.MissingPrivilegeError(
                err, "perf_event_open", "CAP_PERFMON (or CAP_SYS_ADMIN)", detail)
        raise errors.from_errno(err, "perf_event_open", detail)
    return ret


def ioctl(fd: int, request: int, arg: int = 0, *, op: str = "ioctl") -> int:
    """ioctl(2) with an integer argument."""
    ret = _ioctl(ctypes.c_int(fd), ctypes.c_ulong(request), ctypes.c_ulong(arg))
    if ret < 0:
        err = ctypes.get_errno()
        raise errors.from_errno(err, op)
    return ret


def close(fd: int) -> None:
    """close(2), ignoring EBADF so double closes in error paths stay harmless."""
    try:
        os.close(fd)
    except OSError:
        pass
