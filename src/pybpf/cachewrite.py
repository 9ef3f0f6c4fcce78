"""Writing the private cache and keeping it bounded: atomic sealed writes, plain files
with a checksum beside them (vmlinux.h), least-recently-used eviction and the sweep of
temp files dead writers left.  :class:`pybpf.cache.Cache`'s writing methods call these;
a warm start only reads the cache and never imports this module.
"""

from __future__ import annotations

import os
import time

from . import cache as _cache
from .cache import (_KEEP_RECENT, _STAMP, TEMP_PREFIX, CacheError, CacheWarning, _digest,
                    _insecure, seal, unseal)


def parse_size(text: str) -> int:
    """``"256M"`` -> bytes (K, M, G suffixes, powers of 1024)."""
    t = text.strip().upper().rstrip("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in "KMG" and t[-1:] else t
    if not num.isdigit():
        raise ValueError(f"not a size: {text!r} (e.g. 512M)")
    return int(num) * mult


def put(cache, key: str, data: bytes) -> str:
    """Store ``data`` under ``key`` atomically; returns the entry's path."""
    cache.check()
    path = cache.path_for(key)
    write_file(cache, path, seal(key, data))
    maybe_evict(cache)
    return path


def file_ok(cache, path: str) -> bool:
    """Whether ``path`` exists, is a regular file and is private to us."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if _insecure(st) or not os.path.isfile(path) or os.path.islink(path):
        import warnings
        warnings.warn(f"ignoring cache entry {path}: not a private regular file",
                      CacheWarning, stacklevel=4)
        return False
    return True


def write_file(cache, path: str, data: bytes) -> None:
    """Write atomically (temp file in the same directory, then rename), mode 0600."""
    from .atomicwrite import write_atomically
    write_atomically(path, data, 0o600, prefix=".tmp-")


def write_sealed(cache, path: str, data: bytes) -> None:
    """Write a file that must keep its plain content (vmlinux.h, read by clang) with
    a ``.sum`` beside it, so :func:`sealed_ok` can tell a damaged one."""
    name = os.path.basename(path)
    write_file(cache, path, data)
    write_file(cache, path + ".sum", seal(name, _digest(name, data)))


def sealed_ok(cache, path: str) -> bool:
    """Whether a file written by :func:`write_sealed` is private and intact."""
    if not file_ok(cache, path):
        return False
    name = os.path.basename(path)
    want = unseal(name, cache.read_file(path + ".sum"))
    data = cache.read_file(path)
    return want is not None and data is not None and want == _digest(name, data)

# -- size bound ---------------------------------------------------------------------
def entries(cache) -> list[tuple[str, int, float]]:
    """(name, bytes, last use) of every entry (files and ``.d`` directories)."""
    out = []
    cache.check()
    with os.scandir(cache.root) as it:
        for e in it:
            if e.name.startswith((".", TEMP_PREFIX)):
                continue
            try:
                st = e.stat(follow_symlinks=False)
                if e.is_dir(follow_symlinks=False):
                    size = st.st_blocks * 512 + _tree_size(e.path)
                elif e.is_file(follow_symlinks=False):
                    size = st.st_blocks * 512
                else:
                    continue
            except OSError:
                continue
            out.append((e.name, size, st.st_mtime))
    return out


def maybe_evict(cache) -> None:
    """Check the size now and then (at most every EVICT_INTERVAL seconds)."""
    stamp = os.path.join(cache.root, _STAMP)
    try:
        if time.time() - os.lstat(stamp).st_mtime < _cache.EVICT_INTERVAL:
            return
    except OSError:
        pass
    try:
        evict(cache)
        fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        os.utime(fd)
        os.close(fd)
    except (OSError, CacheError):
        pass


def evict(cache, max_bytes: int | None = None) -> tuple[int, int]:
    """Remove least recently used entries until the cache is under 3/4 of its limit
    (room to grow before the next check); also sweeps temp files of dead writers.
    Returns (entries removed, bytes freed)."""
    limit = cache.max_bytes if max_bytes is None else max_bytes
    sweep_temps(cache.root)
    listed = entries(cache)
    total = sum(size for _, size, _ in listed)
    if total <= limit:
        return 0, 0
    target = limit * 3 // 4
    now = time.time()
    removed = freed = 0
    for name, size, used in sorted(listed, key=lambda e: e[2]):
        if total <= target:
            break
        if now - used < _KEEP_RECENT:
            continue
        if _remove(cache, name):
            total -= size
            removed += 1
            freed += size
    return removed, freed


def clear(cache) -> tuple[int, int]:
    """Remove every entry (and stale temp files); returns (entries, bytes) removed."""
    sweep_temps(cache.root, max_age=0.0)
    removed = freed = 0
    for name, size, _ in entries(cache):
        if _remove(cache, name):
            removed += 1
            freed += size
    try:
        os.unlink(os.path.join(cache.root, _STAMP))
    except OSError:
        pass
    return removed, freed


def _remove(cache, name: str) -> bool:
    path = os.path.join(cache.root, name)
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            _remove_tree(path)
        else:
            os.unlink(path)
        return True
    except OSError:
        return False


def _tree_size(path: str) -> int:
    total = 0
    with os.scandir(path) as it:
        for e in it:
            try:
                total += e.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                pass
    return total


def _remove_tree(path: str) -> None:
    """Remove a directory of plain files without following any link in it."""
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for name in os.listdir(dfd):
            try:
                os.unlink(name, dir_fd=dfd)
            except IsADirectoryError:
                import shutil
                shutil.rmtree(name, dir_fd=dfd)
            except FileNotFoundError:
                pass
    finally:
        os.close(dfd)
    os.rmdir(path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_temps(base: str, max_age: float = 3600.0) -> int:
    """Remove what writers that died (SIGKILL) left in ``base``: compile directories
    ``pybpf-cc-<pid>-*`` of dead processes, and ``.tmp-*`` files older than ``max_age``.
    Only our own entries are touched.  Returns how many were removed."""
    n = 0
    now = time.time()
    euid = os.geteuid()
    try:
        it = os.scandir(base)
    except OSError:
        return 0
    with it:
        for e in it:
            if not e.name.startswith((TEMP_PREFIX, ".tmp-")):
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_uid != euid:
                continue
            stale = False
            if e.name.startswith(TEMP_PREFIX) and e.is_dir(follow_symlinks=False):
                pid = e.name[len(TEMP_PREFIX):].split("-", 1)[0]
                stale = (pid.isdigit() and not _pid_alive(int(pid))) or \
                    now - st.st_mtime > max(max_age, 3600.0)
            elif e.name.startswith(".tmp-") and e.is_file(follow_symlinks=False):
                stale = now - st.st_mtime > max_age
            if not stale:
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    _remove_tree(e.path)
                else:
                    os.unlink(e.path)
                n += 1
            except OSError:
                pass
    return n
