"""The binary a uprobe or USDT probe names: a path, a program on $PATH, or a shared
library by name ("c", "libc.so.6") looked up in glibc's ld.so.cache as the dynamic loader
would.  Kept apart from :mod:`.symbols` (ELF symbol tables): a uprobe tool's warm start
resolves its binary and reads its offsets from :mod:`.elfcache`, never a symbol table.
"""

from __future__ import annotations

import os
import struct

from .. import errors

TYPE_CHECKING = False
if TYPE_CHECKING:            # annotations only: typing costs a uprobe tool's start
    from typing import Iterator

LD_SO_CACHE = "/etc/ld.so.cache"
_CACHE_MAGIC = b"glibc-ld.so.cache1.1"
_CACHE_HEADER = struct.Struct("<20sII")     # magic+version, nlibs, len_strings
_CACHE_HEADER_SIZE = 48                     # ...flags, pad, extension offset, unused
_CACHE_ENTRY = struct.Struct("<iIIIQ")      # flags, key, value, osversion, hwcap


def _machine_of(path: str) -> tuple[int, int] | None:
    """(EI_CLASS, e_machine) of an ELF file, or None when unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    order = "<" if head[5] == 1 else ">"
    return head[4], struct.unpack_from(order + "H", head, 18)[0]


def _ld_so_cache(path: str = LD_SO_CACHE,
                 prefixes: tuple[str, ...] = ("",)) -> Iterator[tuple[str, str]]:
    """(soname, path) entries of glibc's ld.so.cache (the "new" format, glibc >= 2.32 only)
    whose soname starts with one of ``prefixes`` (compared as bytes: decoding all of a
    cache's thousands of names cost a uprobe attach ~5 ms)."""
    want = tuple(p.encode() for p in prefixes)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return
    base = data.find(_CACHE_MAGIC)       # old-format caches carry the new one after them
    if base < 0 or len(data) < base + _CACHE_HEADER_SIZE:
        return
    _, nlibs, _ = _CACHE_HEADER.unpack_from(data, base)
    pos = base + _CACHE_HEADER_SIZE

    def cstr(off: int) -> str:      # string offsets count from the new header
        end = data.find(b"\0", base + off)
        return data[base + off:end].decode(errors="replace")

    for i in range(nlibs):
        if pos + _CACHE_ENTRY.size * (i + 1) > len(data):
            return
        _, key, value, _, _ = _CACHE_ENTRY.unpack_from(data, pos + _CACHE_ENTRY.size * i)
        if data.startswith(want, base + key):
            yield cstr(key), cstr(value)


def _ldconfig_p() -> Iterator[tuple[str, str]]:
    """(soname, path) from ``ldconfig -p`` when the cache format is not one we read."""
    import shutil
    import subprocess
    exe = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        out = subprocess.run([exe, "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return
    for line in out.splitlines()[1:]:
        name, sep, target = line.strip().partition(" => ")
        if sep:
            yield name.split(" (")[0].strip(), target.strip()


# find_library's answers in this process, keyed by the name and ld.so.cache's identity:
# a tool attaching several probes to libc reads the cache once, not once per probe
_FOUND: dict = {}


def find_library(name: str) -> str:
    """The path of shared library ``name``: "c", "libc", "libc.so" or "libc.so.6".

    Looks in /etc/ld.so.cache (falling back to ``ldconfig -p``) and keeps only libraries
    of this process's ELF class and machine, as the dynamic loader would.
    """
    try:
        st = os.stat(LD_SO_CACHE)
        memo_key = (name, st.st_ino, st.st_mtime_ns)
    except OSError:
        memo_key = None
    found = _FOUND.get(memo_key) if memo_key else None
    if found is not None and os.path.exists(found):
        return found
    lib = name if name.startswith("lib") else f"lib{name}"
    wanted = {lib} if ".so" in lib else {f"{lib}.so"}
    me = _machine_of("/proc/self/exe")
    for source in (_ld_so_cache(prefixes=tuple(wanted)), _ldconfig_p()):
        for soname, path in source:
            exact = soname in wanted
            versioned = any(soname.startswith(w + ".") for w in wanted)
            if (exact or versioned) and os.path.exists(path) and \
                    (me is None or _machine_of(path) == me):
                if memo_key:
                    _FOUND[memo_key] = path
                return path
    raise errors.NotFoundError(2, "find_library", f"shared library {name!r} is not in "
                               f"{LD_SO_CACHE} (nor ldconfig -p)")


def _which(name: str) -> str | None:
    """shutil.which for a bare name (shutil itself costs a uprobe tool's start ~2 ms)."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        p = os.path.join(d or os.curdir, name)
        if os.path.isfile(p) and os.access(p, os.X_OK) and _is_elf(p):
            return p
    return None


def _is_elf(path: str) -> bool:
    """Only an ELF file can be probed: a wrapper script earlier on $PATH (a pyenv shim for
    python3, say) is passed over for the real program further on."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def resolve_path(path: str) -> str:
    """A binary to probe: a path, a program on $PATH, or a library name ("c", "libc.so.6")."""
    if os.sep in path:
        if not os.path.exists(path):
            raise errors.NotFoundError(2, "uprobe", f"{path} does not exist")
        if path.startswith("/proc/") and "/root/" in path:
            # a file in another process's mount namespace, reached through its root:
            # realpath would resolve the magic link to "/" and name a file in ours
            return path
        return os.path.realpath(path)
    if ".so" in path or not _which(path):
        try:
            return os.path.realpath(find_library(path))
        except errors.NotFoundError:
            if os.path.exists(path):
                return os.path.realpath(path)
            if ".so" in path:
                raise
    found = _which(path)
    if found is None:
        raise errors.NotFoundError(2, "uprobe", f"{path!r} is neither a file, a program on "
                                   "$PATH nor a known shared library")
    return os.path.realpath(found)
