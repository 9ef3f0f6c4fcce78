"""BPF objects shipped inside the package (tools, exporter examples): the object compiled
at build time when the wheel carries one, else the ``.bpf.c`` compiled once and cached.

``setup.py`` compiles every ``src/pybpf/**/<stem>.bpf.c`` to ``<stem>.bpf.o`` beside it
in the build, so installs need no compiler; a source checkout compiles on first use.
"""

from __future__ import annotations

import os

# No pathlib, typing or json here: a tool's warm start goes through this module.


def bundled_object(folder: str, stem: str, includes=(),
                   shared_dirs=()) -> tuple[bytes, str | None]:
    """The compiled ``folder/stem.bpf.c``, and an identity of it that names its load plan
    (None: hash the bytes).  The build's ``stem.bpf.o`` wins when present."""
    read, ident = bundled_source(folder, stem, includes, shared_dirs)
    return read(), ident


def bundled_source(folder: str, stem: str, includes=(),
                   shared_dirs=()) -> tuple:
    """``(read, identity)`` for the compiled ``folder/stem.bpf.c`` without reading it:
    ``read()`` returns the object's bytes; ``identity`` names its load plan (None: hash
    the bytes).  A warm start replays the plan named by the identity and never calls
    ``read`` (the object is ~700 KB read and checksummed: ~2 ms)."""
    built = os.path.join(folder, f"{stem}.bpf.o")
    try:
        st = os.stat(built)
    except FileNotFoundError:
        st = None
    if st is not None:
        from ._hash import sha256
        ident = f"built|{built}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"

        def read_built() -> bytes:
            with open(built, "rb") as f:
                return f.read()
        return read_built, sha256(ident.encode()).hexdigest()
    try:
        memo = source_memo_key(folder, stem, shared_dirs)
    except OSError:
        memo = None
    return (lambda: _compiled(folder, stem, includes, memo)), memo


def _compiled(folder: str, stem: str, includes, memo: str | None) -> bytes:
    """The object compiled from ``folder/stem.bpf.c``: from the cache entry ``memo``, else
    compiled (through the compile cache) and stored there."""
    from .cache import Cache, CacheError
    try:
        cache = Cache.default()
        obj = cache.get(memo) if memo is not None else None
    except (CacheError, OSError):
        cache = obj = None
    if obj is not None:
        return obj
    from .toolchain import compile as compile_c
    obj = compile_c(os.path.join(folder, f"{stem}.bpf.c"), includes=[folder, *includes])
    if cache is not None and memo is not None:
        try:
            cache.put(memo, obj)
        except (CacheError, OSError):
            pass
    return obj


def source_memo_key(folder: str, stem: str, shared_dirs=()) -> str:
    """A key naming a bundled object by its folder's sources' identities (inode, size,
    times) and the running kernel, so a warm start skips even the compile cache's checks
    (finding clang, hashing headers).  Edits of the folder's ``.bpf.c``/``.h`` files or a
    new kernel miss; the compile cache proper still guards everything else on a miss."""
    from . import __version__
    from ._hash import sha256
    from .codeid import code_identity     # vmlinux.h comes from pybpf's own generator
    from .kernelid import kernel_key
    h = sha256(f"pybpf-tool|{__version__}|{code_identity()}|{stem}|{kernel_key()}".encode())
    # the folder's own sources, then the headers of folders it shares them from
    paths = [os.path.join(folder, n) for n in sorted(os.listdir(folder))
             if n.endswith((".bpf.c", ".h"))]
    for d in shared_dirs:
        paths += [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".h")]
    for path in paths:
        st = os.stat(path)
        h.update(f"|{path}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
                 .encode())
    return h.hexdigest()
