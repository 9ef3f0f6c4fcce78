"""The per-user private cache (~/.cache/pybpf): compiled objects, vmlinux.h, BTF indexes.

Nothing is loaded from it unless the directory and the entry belong to the current user
and nobody else can write them: a cache another user could plant files in would let them
choose what we load into the kernel.  Entries are content-addressed (key = sha256 hex of
the inputs) and written atomically (temp file + rename).
"""

from __future__ import annotations

import os
import re

from .errors import PybpfError

_KEY = re.compile(r"[0-9a-f]{64}")


class CacheError(PybpfError):
    """The cache directory is unusable or not private to this user."""


class CacheWarning(UserWarning):
    """A cache entry was ignored because another user could have written it."""


def key_of(*parts: bytes | str) -> str:
    """sha256 hex over the parts (length-prefixed, so concatenations cannot collide)."""
    from ._hash import sha256
    h = sha256()
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _insecure(st: os.stat_result) -> str | None:
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not {os.geteuid()}"
    if st.st_mode & 0o022:
        return f"writable by group/others (mode {st.st_mode & 0o777:o})"
    return None


class Cache:
    """A content-addressed directory of private files."""

    def __init__(self, root: str | os.PathLike):
        self.root = os.path.abspath(os.fspath(root))

    @classmethod
    def default(cls) -> Cache:
        """``$XDG_CACHE_HOME/pybpf``, else ``~/.cache/pybpf``."""
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        return cls(os.path.join(base, "pybpf"))

    def __repr__(self) -> str:
        return f"Cache({self.root!r})"

    # -- the directory ----------------------------------------------------------------
    def check(self) -> str:
        """Create the directory (0700) if missing; raise CacheError unless it is private."""
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            st = os.stat(self.root)
        except OSError as e:
            raise CacheError(f"cannot use cache directory {self.root}: {e.strerror}") from None
        why = _insecure(st)
        if why:
            raise CacheError(f"refusing cache directory {self.root}: it is {why}; another "
                             f"user could plant objects there (fix: chown/chmod 700 it, or "
                             f"pass another cache)")
        return self.root

    def path_for(self, key: str) -> str:
        """Where the entry for ``key`` lives."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"cache keys are sha256 hex digests, not {key!r}")
        return os.path.join(self.root, key)

    def dir_for(self, key: str) -> str:
        """A private sub-directory for ``key`` (for entries that must keep a file name,
        such as vmlinux.h), created 0700 and checked like the root."""
        d = self.path_for(key) + ".d"
        self.check()
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise CacheError(f"cannot create {d}: {e.strerror}") from None
        why = _insecure(os.lstat(d))
        if why or not os.path.isdir(d) or os.path.islink(d):
            raise CacheError(f"refusing cache directory {d}: it is {why or 'not a directory'}")
        return d

    # -- entries ----------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        """The entry's bytes, or None if absent (or not safe to trust: a warning says so)."""
        self.check()
        return self.read_file(self.path_for(key))

    def put(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` atomically; returns the entry's path."""
        self.check()
        path = self.path_for(key)
        self.write_file(path, data)
        return path

    def file_ok(self, path: str) -> bool:
        """Whether ``path`` exists, is a regular file and is private to us."""
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if _insecure(st) or not os.path.isfile(path) or os.path.islink(path):
            import warnings
            warnings.warn(f"ignoring cache entry {path}: not a private regular file",
                          CacheWarning, stacklevel=3)
            return False
        return True

    def read_file(self, path: str, warn: bool = True) -> bytes | None:
        """Read a file inside the cache if it is ours and nobody else can write it."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            why = _insecure(st)
            if why:
                if warn:
                    import warnings
                    warnings.warn(f"ignoring cache entry {path}: {why}", CacheWarning,
                                  stacklevel=3)
                return None
            chunks, left = [], st.st_size
            while left > 0:
                b = os.read(fd, left)
                if not b:
                    break
                chunks.append(b)
                left -= len(b)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def write_file(self, path: str, data: bytes) -> None:
        """Write atomically (temp file in the same directory, then rename), mode 0600."""
        d = os.path.dirname(path)
        import tempfile
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


# -- helpers the BTF index and the CO-RE fix cache use (paths in the default cache) ----
def cache_dir() -> str | None:
    """The default cache directory (created 0700), or None when it is unusable or unsafe."""
    try:
        return Cache.default().check()
    except CacheError:
        return None


def read_private(path: str) -> bytes | None:
    """The file's bytes if it is ours and writable by nobody else; else None."""
    return Cache(os.path.dirname(path)).read_file(path, warn=False)


def write_private(path: str, data: bytes) -> None:
    """Write atomically, mode 0600; failures leave no partial entry (and are ignored)."""
    try:
        Cache(os.path.dirname(path)).write_file(path, data)
    except OSError:
        pass


def get_record(key: str):
    """A value stored by :func:`put_record` in the default cache (marshal: fast, builtin,
    and safe enough here because the cache is private and checked), or None when absent,
    unreadable or the cache is unusable."""
    import marshal
    try:
        raw = Cache.default().get(key)
    except CacheError:
        return None
    if raw is None:
        return None
    try:
        return marshal.loads(raw)
    except (ValueError, EOFError, TypeError):
        return None


def put_record(key: str, value) -> None:
    """Store plain data (dicts, lists, tuples, bytes, str, ints) under ``key``; a cache
    that cannot be written only means the next start does the work again."""
    import marshal
    try:
        Cache.default().put(key, marshal.dumps(value))
    except (CacheError, OSError, ValueError):
        pass
