"""The per-user private cache (~/.cache/pybpf): compiled objects, vmlinux.h, BTF indexes,
load plans, bcc build records.

The cache decides what root loads into the kernel, so it is a privilege boundary:

- its location is used only if no other user can change it: the directory is ours and
  0700, and every parent up to ``/`` is owned by root (or us) and writable by nobody else
  (sticky root-owned directories such as /tmp excepted); symlinks on the way are followed
  only when equally trusted (:mod:`pybpf.safepath`, the checks sshd and sudo make);
- an entry is read only through ``O_NOFOLLOW`` and trusted only if ``fstat`` says it is
  ours and writable by nobody else;
- an entry is a fact, not trust: each is framed with its length and a checksum of its name
  and content, so
  a truncated, edited or renamed ("foreign") entry is a miss and is rebuilt, never loaded;
- the cache is bounded: least recently used entries go when it grows past its limit
  (``PYBPF_CACHE_MAX``, bytes with an optional K/M/G suffix; 256M by default).

See docs/threat-model.md for the threat model.
"""

from __future__ import annotations

import os
import time

from .errors import PybpfError

_HEX = frozenset("0123456789abcdef")
_MAGIC = b"PYBPFC2\n"
_SUFFIX = ".s1"
_FRAME = len(_MAGIC) + 12
DEFAULT_MAX_BYTES = 256 << 20
_STAMP = ".last-evict"
EVICT_INTERVAL = 30.0          # seconds between size checks made by put()
_KEEP_RECENT = 60.0            # never evict what was used this last minute
_TOUCH_AFTER = 600.0           # a hit refreshes an entry's last-use time at most this often
TEMP_PREFIX = "pybpf-cc-"


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


def _digest(name: str, data: bytes) -> bytes:
    """Length and CRC-32 of the entry's name and data.  The seal guards against damage
    (truncation, a stray edit, a file renamed to another key), not against an attacker:
    only root can write the directory (see docs/threat-model.md), and a CRC costs a warm start
    0.2 ms on a 670 KB object where the built-in sha256 costs 6 ms."""
    import zlib
    crc = zlib.crc32(data, zlib.crc32(b"pybpf-cache-entry|" + name.encode() + b"|"))
    return len(data).to_bytes(8, "little") + crc.to_bytes(4, "little")


def seal(name: str, data: bytes) -> bytes:
    """``data`` framed for storage under ``name``: magic, length and checksum, data."""
    return _MAGIC + _digest(name, data) + data


def unseal(name: str, raw: bytes | None, view: bool = False):
    """The data of a framed entry, or None if it is damaged, edited or another name's
    (``view``: a memoryview into ``raw``, sparing a large entry's copy)."""
    if raw is None or len(raw) < _FRAME or not raw.startswith(_MAGIC):
        return None
    data = memoryview(raw)[_FRAME:] if view else raw[_FRAME:]
    return data if raw[len(_MAGIC):_FRAME] == _digest(name, data) else None


def _insecure(st: os.stat_result) -> str | None:
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not {os.geteuid()}"
    if st.st_mode & 0o022:
        return f"writable by group/others (mode {st.st_mode & 0o777:o})"
    return None


class Cache:
    """A content-addressed directory of private, self-checking files."""

    def __init__(self, root: str | os.PathLike, max_bytes: int | None = None):
        self.root = os.path.abspath(os.fspath(root))
        if max_bytes is None:
            env = os.environ.get("PYBPF_CACHE_MAX")
            try:
                if env:
                    from .cachewrite import parse_size
                    max_bytes = parse_size(env)
                else:
                    max_bytes = DEFAULT_MAX_BYTES
            except ValueError:
                max_bytes = DEFAULT_MAX_BYTES
        self.max_bytes = max_bytes

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
        """Create the directory (0700) if missing; raise CacheError unless it and every
        parent are safe from other users (an lstat per component: tens of microseconds,
        so it is done on every use)."""
        from .safepath import UnsafePath, private_dir
        try:
            private_dir(self.root)
        except UnsafePath as e:
            raise CacheError(f"refusing cache directory {self.root}: {e.reason}; another "
                             "user could choose what pybpf loads (fix: chown/chmod 700 "
                             "it and its parents, or set XDG_CACHE_HOME to a private "
                             "directory)") from None
        except OSError as e:
            raise CacheError(f"cannot use cache directory {self.root}: "
                             f"{e.strerror}") from None
        return self.root

    def path_for(self, key: str) -> str:
        """Where the entry for ``key`` lives (the suffix names the sealed format, so an
        older pybpf sharing the directory never reads one as a bare object)."""
        if len(key) != 64 or not _HEX.issuperset(key):
            raise ValueError(f"cache keys are sha256 hex digests, not {key!r}")
        return os.path.join(self.root, key + _SUFFIX)

    def dir_for(self, key: str) -> str:
        """A private sub-directory for ``key`` (for entries that must keep a file name,
        such as vmlinux.h), created 0700 and checked like the root."""
        d = os.path.join(self.root, key + ".d")
        self.check()
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise CacheError(f"cannot create {d}: {e.strerror}") from None
        st = os.lstat(d)
        why = _insecure(st)
        if why or not os.path.isdir(d) or os.path.islink(d) or st.st_mode & 0o077:
            raise CacheError(f"refusing cache directory {d}: it is "
                             f"{why or 'not a private directory'}")
        return d

    # -- entries ----------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        """The entry's bytes, or None if absent, damaged (a miss: the caller rebuilds it)
        or not safe to trust (a warning says so)."""
        self.check()
        return unseal(key, self.read_file(self.path_for(key), touch=True))

    def put(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` atomically; returns the entry's path."""
        from .cachewrite import put
        return put(self, key, data)

    def file_ok(self, path: str) -> bool:
        """Whether ``path`` exists, is a regular file and is private to us."""
        from .cachewrite import file_ok
        return file_ok(self, path)

    def read_file(self, path: str, warn: bool = True, touch: bool = False) -> bytes | None:
        """Read a file inside the cache if it is ours and nobody else can write it."""
        opened = self.open_file(path, warn, touch, stacklevel=4)
        if opened is None:
            return None
        fd, st = opened
        try:
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

    def open_file(self, path: str, warn: bool = True, touch: bool = False,
                  stacklevel: int = 3):
        """``(fd, stat)`` of a file inside the cache if it is ours, a regular file and
        writable by nobody else, opened without following a link (the caller closes the
        fd); else None.  ``touch``: mark it used (for least-recently-used eviction)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            why = _insecure(st)
            if why or not (st.st_mode & 0o170000 == 0o100000):
                if warn:
                    import warnings
                    warnings.warn(f"ignoring cache entry {path}: {why or 'not a file'}",
                                  CacheWarning, stacklevel=stacklevel)
                os.close(fd)
                return None
        except OSError:
            os.close(fd)
            return None
        if touch and time.time() - st.st_mtime > _TOUCH_AFTER:
            try:
                os.utime(fd)        # last use, for least-recently-used eviction
            except OSError:
                pass
        return fd, st

    # -- writing and the size bound (cachewrite: not on a warm start) -----------------
    def write_file(self, path: str, data: bytes) -> None:
        """Write atomically (temp file in the same directory, then rename), mode 0600."""
        from .cachewrite import write_file
        write_file(self, path, data)

    def write_sealed(self, path: str, data: bytes) -> None:
        """Write a file that must keep its plain content (vmlinux.h, read by clang) with
        a ``.sum`` beside it, so :meth:`sealed_ok` can tell a damaged one."""
        from .cachewrite import write_sealed
        write_sealed(self, path, data)

    def sealed_ok(self, path: str) -> bool:
        """Whether a file written by :meth:`write_sealed` is private and intact."""
        from .cachewrite import sealed_ok
        return sealed_ok(self, path)

    def entries(self) -> list[tuple[str, int, float]]:
        """(name, bytes, last use) of every entry (files and ``.d`` directories)."""
        from .cachewrite import entries
        return entries(self)

    def usage(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def maybe_evict(self) -> None:
        """Check the size now and then (at most every EVICT_INTERVAL seconds)."""
        from .cachewrite import maybe_evict
        maybe_evict(self)

    def evict(self, max_bytes: int | None = None) -> tuple[int, int]:
        """Remove least recently used entries until the cache is under 3/4 of its limit
        (room to grow before the next check); also sweeps temp files of dead writers.
        Returns (entries removed, bytes freed)."""
        from .cachewrite import evict
        return evict(self, max_bytes)

    def clear(self) -> tuple[int, int]:
        """Remove every entry (and stale temp files); returns (entries, bytes) removed."""
        from .cachewrite import clear
        return clear(self)


def __getattr__(name: str):
    # what moved to cachewrite stays importable from here (pybpf.cache.sweep_temps...)
    if name in ("parse_size", "sweep_temps"):
        from . import cachewrite
        return getattr(cachewrite, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- helpers the BTF index and the CO-RE fix cache use (paths in the default cache) ----
def cache_dir() -> str | None:
    """The default cache directory (created 0700), or None when it is unusable or unsafe."""
    try:
        return Cache.default().check()
    except CacheError:
        return None


def read_private(path: str, view: bool = False):
    """The bytes :func:`write_private` stored at ``path`` if the file is ours, writable by
    nobody else and intact (a damaged or renamed file is None: a miss); ``view`` gives a
    read-only memoryview instead of a copy."""
    return unseal(os.path.basename(path), Cache(os.path.dirname(path)).read_file(
        path, warn=False, touch=True), view)


def write_private(path: str, data: bytes) -> None:
    """Write atomically, mode 0600, sealed; failures leave no partial entry (and are
    ignored)."""
    try:
        Cache(os.path.dirname(path)).write_file(path, seal(os.path.basename(path), data))
    except OSError:
        pass


def record_key(key: str) -> str:
    """Where a record for ``key`` lives: records (load plans, bcc build records) describe
    what pybpf's own code derived, so they are keyed on that code's identity too and a
    fix in the loader is never masked by a record an older pybpf wrote."""
    from .codeid import code_identity
    return key_of("pybpf-record", code_identity(), key)


def get_record(key: str):
    """A value stored by :func:`put_record` in the default cache (marshal: fast, builtin,
    and safe enough here because the cache is private and checked), or None when absent,
    unreadable or the cache is unusable."""
    import marshal
    try:
        raw = Cache.default().get(record_key(key))
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
        Cache.default().put(record_key(key), marshal.dumps(value))
    except (CacheError, OSError, ValueError):
        pass
