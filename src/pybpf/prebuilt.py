"""Objects compiled ahead by root into a private directory, for a machine that compiles
slowly (the kernel-matrix guest runs clang under emulation; CO-RE objects are portable).

``PYBPF_PREBUILT=<dir>`` names the directory (root-owned, mode 0700, checked like the
cache).  An entry is keyed like the compile cache's first key (source bytes and path,
clang's arguments without the vmlinux.h folder) and records the sha256 of every other
file clang read; :func:`lookup` serves it only if each of those files still hashes the
same, so an edited source or header falls back to a real compile.
"""

from __future__ import annotations

import marshal
import os

_VERSION = "pybpf-prebuilt-1"
ENV = "PYBPF_PREBUILT"


def _key(src: bytes, src_path: str, args: list[str]) -> str:
    from .cache import key_of
    seen, norm = set(), []
    for a in args:             # -I folder given twice (includes and the source's folder)
        if a.startswith("-I"):
            if a in seen:
                continue
            seen.add(a)
        norm.append(a)
    return key_of(_VERSION, src, src_path, "\0".join(norm))


def _sha(path: str) -> str:
    from ._hash import sha256
    with open(path, "rb") as f:
        return sha256(f.read()).hexdigest()


def _read(dfd: int, name: str) -> bytes | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def lookup(directory: str, src: bytes, src_path: str, args: list[str]) -> bytes | None:
    """The prebuilt object for this compile, or None (absent, untrusted, or stale)."""
    from .safepath import UnsafePath, private_dir
    try:
        real = private_dir(directory, create=False)
        dfd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except (UnsafePath, OSError):
        return None
    try:
        key = _key(src, src_path, args)
        deps = _read(dfd, key + ".deps")
        if deps is None:
            return None
        try:
            for path, digest in marshal.loads(deps):
                if _sha(path) != digest:
                    return None
        except (OSError, ValueError, TypeError, EOFError):
            return None
        return _read(dfd, key + ".o")
    finally:
        os.close(dfd)


def build(directory: str, sources, cache=None) -> int:
    """Compile each ``.bpf.c`` path in ``sources`` (through the cache) into ``directory``
    (created private); returns how many were stored.  A source that fails to compile here
    is left out: the consumer then compiles it itself and reports the error."""
    from .cache import Cache
    from .safepath import private_dir
    from .toolchain import (PrivateTemp, _clang_args, _run_clang, _vmlinux_dir,
                            ensure_vmlinux_h, find_clang, host_arch)
    from .errors import CompileError
    real = private_dir(directory)
    cache = cache or Cache.default()
    arch = host_arch()
    clang = find_clang()
    vdir, _ = _vmlinux_dir(cache, "")
    if vdir:
        ensure_vmlinux_h(cache, vdir)
    from .cache import key_of
    from .toolchain import _VERSION as cver, clang_version, compile as compile_c
    version = clang_version(clang, cache)
    identity = _vmlinux_dir(cache, "")[1]
    def one(path):
        """(path, source, object, headers clang read) or None where it does not compile."""
        with open(path, "rb") as f:
            src = f.read()
        args = _clang_args(arch, (), (), path, vdir)
        try:
            # through the cache (the host's tests compiled most of these already), its
            # manifest then names the headers clang read
            obj = compile_c(path, cache=cache)
            man = cache.get(key_of(cver, src, path, "\0".join(args), version, identity))
            dep_paths = marshal.loads(man)["deps"] if man else None
            dep_paths = [d[0] for d in dep_paths] if dep_paths else None
            if dep_paths is None:
                with PrivateTemp(cache) as tmp:
                    obj, dep_paths = _run_clang(clang, args, src, path, tmp)
        except CompileError:
            return None
        return path, src, obj, dep_paths

    # each compile is a clang process of its own: side by side, one per CPU
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
        built = list(pool.map(one, [os.path.abspath(p) for p in sources]))
    done = 0
    for item in built:
        if item is None:
            continue
        path, src, obj, dep_paths = item
        deps = [[p, _sha(p)] for p in sorted(set(dep_paths))
                if not (vdir and p.startswith(vdir + os.sep))]
        key = _key(src, path, _clang_args(arch, (), (), path, None))
        for name, data in ((key + ".o", obj), (key + ".deps", marshal.dumps(deps))):
            fd = os.open(os.path.join(real, name),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        done += 1
    return done
