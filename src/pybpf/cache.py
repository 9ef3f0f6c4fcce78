"""The per-user private cache (~/.cache/pybpf): compiled objects, BTF indexes, CO-RE fixes.

Nothing is loaded from it unless the directory and the entry belong to the current user
and nobody else can write them: a cache another user could plant files in would let them
choose what we load into the kernel.
"""

from __future__ import annotations

import os


def cache_dir() -> str | None:
    """The cache directory (created 0700), or None when it is unusable or unsafe."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(root, "pybpf")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return None
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return None
    return path


def read_private(path: str) -> bytes | None:
    """The file's bytes if it is ours and writable by nobody else; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        return os.read(fd, st.st_size)
    finally:
        os.close(fd)


def write_private(path: str, data: bytes) -> None:
    """Write atomically (temp file + rename), mode 0600; failures leave no partial entry."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
