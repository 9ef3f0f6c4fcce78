"""Cgroups made by tests: a v2 cgroup for the duration of a ``with``, removed after."""

from __future__ import annotations

import contextlib
import os
import time


def remove_cgroup(path: str, tries: int = 50) -> None:
    """rmdir ``path``: it fails with EBUSY until the kernel has let go of the last task
    that ran in it (the exit of a just-reaped child takes a moment), so retry a while."""
    for _ in range(tries):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


@contextlib.contextmanager
def temp_cgroup(name: str):
    """A new cgroup v2 directory ``<root>/<name>-<pid>``, removed on the way out."""
    from pybpf.links.cgroup import cgroup2_root
    path = os.path.join(cgroup2_root(), f"{name}-{os.getpid()}")
    os.mkdir(path)
    try:
        yield path
    finally:
        remove_cgroup(path)
