"""Records derived from C sources, valid while the files they came from are unchanged.

A warm ``pybpf.load("x.bpf.c")`` or ``pybpf.ctype(..., header="x.h")`` would otherwise
ask the compile cache for the object (find clang, its version, the kernel's BTF identity,
the manifest, the object's bytes and seal: ~2 ms, and the toolchain's imports) only to
learn what it learnt last time.  A source record keeps that answer (the object's identity,
a type's layout) together with the stat ids (inode, size, mtime, ctime) of everything the
compile depended on: every header clang read, the compiler, the directories the compiler
was searched in (:func:`pybpf.toolchain.compile`'s ``deps``), as ccache's direct mode
judges files.  A record is used only while every one of those is unchanged; otherwise it
is a miss and the caller compiles through the cache again (which hashes what changed) and
writes a fresh record.

The record's key holds the rest: the source's path and bytes, what the caller adds (flags,
type names), the running kernel (:func:`pybpf.kernelid.kernel_key`: the generated
``vmlinux.h`` follows it), ``PATH`` and ``PYBPF_CLANG``, and (through
:func:`pybpf.cache.record_key`) pybpf's own code.  Records live in the private cache,
sealed like every entry there: a damaged or foreign one is a miss.
"""

from __future__ import annotations

import os

_VERSION = "pybpf-srcrecord-1"


def key(kind: str, *parts) -> str | None:
    """The record key of ``parts`` (str or bytes) for a record of ``kind``; None when
    records are off (``PYBPF_PREBUILT`` objects come from elsewhere)."""
    env = os.environ
    if env.get("PYBPF_PREBUILT"):
        return None
    from .cache import key_of
    from .kernelid import kernel_key
    return key_of(_VERSION, kind, kernel_key(), env.get("PATH", os.defpath),
                  env.get("PYBPF_CLANG", ""), *parts)


def unchanged(deps) -> bool:
    """Whether every ``[path, inode, size, mtime_ns, ctime_ns]`` (``[path]``: absent)
    still stats the same."""
    if not isinstance(deps, (list, tuple)) or not deps:
        return False
    for d in deps:
        if not isinstance(d, (list, tuple)) or not d or not isinstance(d[0], str):
            return False
        try:
            st = os.stat(d[0])
        except OSError:
            if len(d) != 1:
                return False
            continue
        if len(d) != 5 or d[1] != st.st_ino or d[2] != st.st_size or \
                d[3] != st.st_mtime_ns or d[4] != st.st_ctime_ns:
            return False
    return True


def get(k: str | None):
    """The value recorded under ``k`` if its files are unchanged, else None."""
    if k is None:
        return None
    from .cache import get_record
    rec = get_record(k)
    if not (isinstance(rec, tuple) and len(rec) == 3 and rec[0] == _VERSION):
        return None
    return rec[2] if unchanged(rec[1]) else None


def put(k: str | None, value, deps: list) -> None:
    """Record ``value`` under ``k``, valid while ``deps`` (from ``compile(deps=)``) stat the
    same; nothing is recorded without deps."""
    if k is None or not deps:
        return
    from .cache import put_record
    put_record(k, (_VERSION, [list(d) for d in deps], value))


def object_of(path: str, includes=(), cflags=()):
    """``(data, identity, fetch)`` for a BPF C source about to be loaded (compiled with
    ``includes`` and ``cflags``): on a warm start ``data`` is ``b""`` and ``fetch``
    compiles only when called (a plan replay never calls it); otherwise the object's bytes
    and ``fetch`` None.  ``identity`` (the object bytes' sha256) names the load plan
    either way."""
    includes = [os.path.abspath(os.fspath(i)) for i in includes]
    cflags = [str(f) for f in cflags]
    try:
        with open(path, "rb") as f:
            src = f.read()
    except FileNotFoundError:
        # compile() would take the path for C text
        from .errors import NotFoundError
        raise NotFoundError(2, "load", path) from None
    except OSError:
        src = None                      # compile() says why, in its words
    extra = ("\0".join(includes), "\0".join(cflags)) if includes or cflags else ()
    k = None if src is None else key("load", os.path.abspath(path), src, *extra)
    identity = get(k)
    if isinstance(identity, str):
        def fetch() -> bytes:
            from .toolchain import compile as cc
            return cc(path, includes=includes, cflags=cflags)
        return b"", identity, fetch
    from ._hash import sha256
    from .toolchain import compile as cc
    deps: list = []
    data = cc(path, deps=deps, includes=includes, cflags=cflags)
    identity = sha256(data).hexdigest()
    put(k, identity, deps)
    return data, identity, None
