"""RLIMIT_MEMLOCK on kernels before 5.11, which charge BPF maps and programs to it.

From 5.11 the kernel accounts BPF memory to the memory cgroup and ignores this limit, so
pybpf never touches it there (a host without CAP_SYS_RESOURCE could not raise it anyway).
Before 5.11 a map or program that passes the limit (often 64 KiB) fails with EPERM.
libbpf raises the limit before every load on such kernels; pybpf raises it only after
that EPERM and retries, so a new kernel pays nothing for old ones.
"""

from __future__ import annotations

import os
import resource

from ..kernelid import release_tuple

_FIRST_ACCOUNTED = (5, 11)      # memcg accounting of BPF memory (kernel commit series in 5.11)


def charges_memlock(release: str | None = None) -> bool:
    """Whether the kernel charges BPF maps and programs to RLIMIT_MEMLOCK (before 5.11)."""
    rel = release_tuple(release)
    return rel != (0, 0) and rel < _FIRST_ACCOUNTED


def raise_limit() -> bool:
    """Raise RLIMIT_MEMLOCK: to unlimited where allowed (CAP_SYS_RESOURCE), else the soft
    limit to the hard one.  True when the soft limit grew, i.e. a retry may now pass."""
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    inf = resource.RLIM_INFINITY
    if soft == inf:
        return False
    for new in ((inf, inf), (hard, hard)):
        if new[0] != inf and new[0] <= soft:
            continue
        try:
            resource.setrlimit(resource.RLIMIT_MEMLOCK, new)
            return True
        except (ValueError, OSError):
            continue
    return False


def hint(release: str | None = None) -> str:
    """One line for an EPERM the limit still explains after :func:`raise_limit` failed."""
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    now = "unlimited" if soft == resource.RLIM_INFINITY else f"{soft // 1024} KiB"
    return (f"kernel {release or os.uname().release} charges BPF maps and programs to "
            f"RLIMIT_MEMLOCK ({now} here), which pybpf could not raise without "
            "CAP_SYS_RESOURCE: raise it (`ulimit -l unlimited`, or LimitMEMLOCK=infinity "
            "in a systemd unit)")
