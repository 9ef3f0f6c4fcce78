"""What uprobes and USDT need from a user binary (symbol offsets, probe notes), cached in
pybpf's private cache so a warm start neither imports pyelftools nor parses the ELF.

Entries are keyed by the file's identity: path, device, inode, size and mtime (a
rebuilt or replaced binary is a new key).  A cache that cannot be read or written only
means the ELF is parsed again.
"""

from __future__ import annotations

import os

_VERSION = "pybpf-elf-1"


def _key(path: str, what: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    from .._hash import sha256
    ident = f"{_VERSION}|{what}|{path}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"
    return sha256(ident.encode()).hexdigest()


def _get(key: str | None):
    if key is None or os.environ.get("PYBPF_NO_ELF_CACHE"):
        return None
    from ..cache import get_record
    return get_record(key)


def _put(key: str | None, value) -> None:
    if key is not None and not os.environ.get("PYBPF_NO_ELF_CACHE"):
        from ..cache import put_record
        put_record(key, value)


def function_offsets(path: str) -> dict[str, int]:
    """Defined symbol name -> file offset for binary ``path`` (a real path); IFUNCs map to
    -1 (their implementation is picked at run time, see symbols.symbol_offset)."""
    key = _key(path, "symbols")
    table = _get(key)
    if isinstance(table, dict):
        return table
    from . import symbols
    table = {n: (-1 if s.type == symbols.STT_GNU_IFUNC else s.offset)
             for n, s in symbols.elf_symbols(path).items()}
    _put(key, table)
    return table


def function_offsets_of(path: str, names) -> dict[str, int]:
    """:func:`function_offsets` of only ``names`` (those ``path`` lacks are left out),
    cached on its own: a tool probing a few libc functions then reads a few entries, not
    libc's ~2700 (a 50 KB record, ~0.7 ms of its start)."""
    names = sorted(set(names))
    key = _key(path, "symbols-of|" + "\0".join(names))
    table = _get(key)
    if isinstance(table, dict):
        return table
    full = function_offsets(path)
    table = {n: full[n] for n in names if n in full}
    _put(key, table)
    return table


def library_offsets(lib: str, names) -> tuple[str, dict[str, int]]:
    """``(libpath.resolve_path(lib), function_offsets_of(it, names))`` from one record
    when ``lib`` is a library name ("c"): keyed by ld.so.cache's identity, valid while
    the library it named is the same file, so a warm start neither parses ld.so.cache
    (~0.4 ms) nor reads a second record.  Paths and programs on $PATH resolve as before."""
    from . import libpath
    if os.sep in lib or libpath._which(lib) is not None:
        real = libpath.resolve_path(lib)
        return real, function_offsets_of(real, names)
    import sys
    names = sorted(set(names))
    key = _key(libpath.LD_SO_CACHE,
               "library-offsets|" + "\0".join([lib, sys.executable, *names]))
    got = _get(key)
    if isinstance(got, list) and len(got) == 3 and isinstance(got[2], dict):
        real, ident, table = got
        try:
            st = os.stat(real)
        except (OSError, TypeError, ValueError):
            st = None
        if st is not None and [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns] == ident:
            return real, table
    real = libpath.resolve_path(lib)
    table = function_offsets_of(real, names)
    st = os.stat(real)
    _put(key, [real, [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns], table])
    return real, table


def functions(path: str) -> dict[str, int]:
    """Like :func:`function_offsets`, for function symbols only (STT_FUNC, and IFUNCs as
    -1): what a tool matching a pattern (``funccount c:mem*``) may probe."""
    key = _key(path, "functions")
    table = _get(key)
    if isinstance(table, dict):
        return table
    from . import symbols
    table = {n: (-1 if s.type == symbols.STT_GNU_IFUNC else s.offset)
             for n, s in symbols.elf_symbols(path).items()
             if s.type in (symbols.STT_FUNC, symbols.STT_GNU_IFUNC)}
    _put(key, table)
    return table


def symbol_offset(path: str, symbol: str, table: dict[str, int] | None = None) -> int:
    """symbols.symbol_offset, from the cache when the binary is unchanged; ``table``: the
    :func:`function_offsets` (or :func:`functions`) of ``path`` already read, for several
    lookups in one binary."""
    from .. import errors
    off = (function_offsets(path) if table is None else table).get(symbol)
    if off is None:
        raise errors.NotFoundError(2, "uprobe", f"symbol {symbol!r} not found in {path}")
    if off >= 0:
        return off
    from . import symbols
    return symbols.symbol_offset(path, symbol)      # an IFUNC: resolve as before


def usdt_notes(path: str, parse):
    """USDT probe tuples of ``path``: ``parse(path)`` on a miss, the cache on a hit."""
    key = _key(path, "usdt")
    notes = _get(key)
    if isinstance(notes, list):
        return notes
    notes = parse(path)
    _put(key, notes)
    return notes
