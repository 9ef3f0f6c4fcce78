"""cgroup hooks (cgroup_skb, sock, sock_addr, sysctl, device...): a bpf link on a cgroup v2
directory, so the program runs for every process in that cgroup and its descendants."""

from __future__ import annotations

import errno
import os

from .. import errors
from .base import Link, link_create


def cgroup2_root() -> str:
    """Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup or .../unified)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if "-" in parts and parts[parts.index("-") + 1] == "cgroup2":
                return parts[4]
    raise errors.NotSupportedError("cgroup v2", "no cgroup2 filesystem is mounted")


def attach(prog, cgroup: str, attach_type: int, flags: int = 0) -> Link:
    """Attach ``prog`` to the cgroup directory ``cgroup`` for hook ``attach_type``."""
    try:
        cg = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise errors.NotFoundError(2, "cgroup attach", f"no cgroup {cgroup!r}") from None
    try:
        fd = link_create(prog.fileno(), cg, attach_type, flags=flags, what=f"cgroup {cgroup}")
    except errors.KernelError as e:
        # the kernel says EBADF for a directory outside cgroup v2 (a cgroup v1 controller,
        # or the tmpfs a hybrid hierarchy mounts at /sys/fs/cgroup)
        if e.errno != errno.EBADF:
            raise
        raise errors.AttachError(errno.EBADF, "cgroup attach", f"{cgroup} is not a cgroup v2 "
                                 f"directory (cgroup2 is mounted at {cgroup2_root()})") \
            from None
    finally:
        os.close(cg)
    return Link(fd, kind="cgroup", target=cgroup)
