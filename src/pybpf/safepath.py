"""Paths only root (or we) can change: the check sshd's StrictModes and sudo make.

pybpf runs as root and loads what it finds in its cache and runs the compiler it finds;
a path another user could redirect (a directory they can write, a symlink they own or
could replace) would let them choose what root loads.  A path is trusted when every
component, from ``/`` down, is owned by root or by us and writable by nobody else; a
world-writable directory is allowed only with the sticky bit and owned by root (``/tmp``):
there nobody can rename or replace an entry they do not own.  Symlinks are followed only
when they are trusted by the same rule (owned by root or us, in a trusted directory).
"""

from __future__ import annotations

import os
import stat

_MAX_LINKS = 40


class UnsafePath(Exception):
    """``reason`` says which component another user could change, and how."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _owners() -> tuple[int, ...]:
    euid = os.geteuid()
    return (0,) if euid == 0 else (0, euid)


def _dir_problem(path: str, st: os.stat_result, owners) -> str | None:
    if st.st_uid not in owners:
        return f"{path} is owned by uid {st.st_uid}, which could replace what is inside it"
    if st.st_mode & 0o022:
        if st.st_mode & stat.S_ISVTX and st.st_uid == 0 and st.st_mode & 0o002:
            return None     # /tmp-like: others cannot touch entries they do not own
        return f"{path} is writable by group/others (mode {st.st_mode & 0o7777:o})"
    return None


def resolve(path: str, create_mode: int | None = None) -> tuple[str, os.stat_result]:
    """The real path of ``path`` and the lstat of its last component, after checking every
    component is trusted; raises UnsafePath (or OSError for a missing one).  With
    ``create_mode``, missing directories are created with that mode (and then checked)."""
    owners = _owners()
    orig = path
    # not abspath(): it would fold "link/.." lexically, where the kernel follows the link
    full = path if path.startswith("/") else os.getcwd() + "/" + path
    todo = [p for p in full.split("/") if p][::-1]
    cur = "/"
    st = os.lstat("/")
    why = _dir_problem("/", st, owners)
    if why:
        raise UnsafePath(orig, why)
    links = 0
    while todo:
        name = todo.pop()
        if name == ".":
            continue
        if name == "..":
            # cur never holds a symlink, so its lexical parent is its real parent
            cur = os.path.dirname(cur)
            st = os.lstat(cur)
            continue
        nxt = os.path.join(cur, name)
        try:
            st = os.lstat(nxt)
        except FileNotFoundError:
            if create_mode is None:
                raise
            try:
                os.mkdir(nxt, create_mode)
            except FileExistsError:
                pass
            st = os.lstat(nxt)
        if stat.S_ISLNK(st.st_mode):
            if st.st_uid not in owners:
                raise UnsafePath(orig, f"{nxt} is a symlink owned by uid {st.st_uid}")
            links += 1
            if links > _MAX_LINKS:
                raise UnsafePath(orig, f"too many symlinks at {nxt}")
            target = os.readlink(nxt)
            if target.startswith("/"):
                cur = "/"
            todo.extend([p for p in target.split("/") if p][::-1])
            continue
        if todo or stat.S_ISDIR(st.st_mode):
            if not stat.S_ISDIR(st.st_mode):
                raise UnsafePath(orig, f"{nxt} is not a directory")
            why = _dir_problem(nxt, st, owners)
            if why:
                raise UnsafePath(orig, why)
        cur = nxt
    return cur, st


def private_dir(path: str, create: bool = True) -> str:
    """``path`` as a directory only we can use (owned by us, mode 0700 or stricter) under
    trusted parents; created 0700 when missing.  Returns its real path."""
    real, st = resolve(path, 0o700 if create else None)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(path, f"{real} is not a directory")
    if st.st_uid != os.geteuid():
        raise UnsafePath(path, f"{real} is owned by uid {st.st_uid}, not {os.geteuid()}")
    if st.st_mode & 0o077:
        raise UnsafePath(path, f"{real} is open to group/others (mode "
                               f"{st.st_mode & 0o7777:o}; it must be 700)")
    return real


def trusted_file(path: str) -> str:
    """``path`` as a regular file that only root (or we) can change, under trusted
    directories (for executables such as clang).  Returns its real path."""
    real, st = resolve(path)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(path, f"{real} is not a regular file")
    if st.st_uid not in _owners():
        raise UnsafePath(path, f"{real} is owned by uid {st.st_uid}")
    if st.st_mode & 0o022:
        raise UnsafePath(path, f"{real} is writable by group/others "
                               f"(mode {st.st_mode & 0o7777:o})")
    return real


def __getattr__(name: str):
    # writing files safely lives in atomicwrite (a warm start only checks paths)
    if name in ("replace_atomically", "write_atomically"):
        from . import atomicwrite
        return getattr(atomicwrite, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
