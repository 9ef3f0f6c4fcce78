"""C in, BPF object out: run clang (never through a shell) and cache the result.

The cache is content-addressed.  A first key over the source, the flags, clang's
``--version`` and the kernel BTF behind the generated vmlinux.h names a manifest of
the headers the compile read (from clang's ``-MD`` output); the object's key adds the
sha256 of each of those headers, so editing an include misses.  A header whose inode,
size, mtime and ctime are unchanged keeps its recorded hash (as ccache's direct mode
does), which keeps a warm hit at a few stat calls and small reads, with no clang run.
"""

from __future__ import annotations

import marshal
import os

# subprocess, tempfile and shlex are imported where clang actually runs: a warm start
# (a cache hit) never needs them, and their imports cost milliseconds.

from .cache import Cache, key_of
from .errors import CompileError

_ARCH = {"x86_64": "x86", "amd64": "x86", "i386": "x86", "i686": "x86",
         "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "s390x": "s390",
         "ppc64le": "powerpc", "ppc64": "powerpc", "riscv64": "riscv",
         "loongarch64": "loongarch", "mips64": "mips"}
_TRIPLE = {"x86": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu",
           "arm": "arm-linux-gnueabihf", "s390": "s390x-linux-gnu",
           "powerpc": "powerpc64le-linux-gnu", "riscv": "riscv64-linux-gnu",
           "loongarch": "loongarch64-linux-gnu", "mips": "mips64el-linux-gnuabi64"}
_VERSION = "pybpf-compile-3"
_INSTALL = "install clang-19 (apt-get install clang-19) or set PYBPF_CLANG to a clang binary"


class _Default:
    def __repr__(self) -> str:
        return "Cache.default()"


DEFAULT = _Default()
"""Sentinel for ``compile(cache=...)``: the user's default cache."""


def _which(name: str) -> str | None:
    import shutil            # only where a name must be looked up: not on a warm start
    return shutil.which(name)


def find_clang() -> str:
    """$PYBPF_CLANG, else the newest clang-N on PATH, else clang (an absolute path)."""
    env = os.environ.get("PYBPF_CLANG")
    if env:
        path = _which(env)
        if path is None:
            raise CompileError(f"PYBPF_CLANG={env!r} is not an executable; {_INSTALL}")
        return path
    best = None
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        try:
            names = os.listdir(d or ".")
        except OSError:
            continue
        for name in names:
            ver = name[6:]
            if name.startswith("clang-") and ver.isdigit() and (best is None or
                                                                 int(ver) > best[0]):
                p = os.path.join(d or ".", name)
                if os.access(p, os.X_OK):
                    best = (int(ver), p)
    if best:
        return os.path.abspath(best[1])
    path = _which("clang")
    if path:
        return path
    raise CompileError(f"no clang found: {_INSTALL}")


def host_arch(machine: str | None = None) -> str:
    """The kernel's name (``__TARGET_ARCH_<name>``) for a machine (default: this one)."""
    m = machine or os.uname().machine
    return _ARCH.get(m, m)


def clang_version(clang: str, cache: Cache | None) -> str:
    """``clang --version``, remembered per binary (real path, size, mtime, inode)."""
    real = os.path.realpath(clang)
    try:
        st = os.stat(real)
    except OSError:
        raise CompileError(f"clang {clang!r} not found; {_INSTALL}") from None
    key = key_of("clang-version", real, str(st.st_size), str(st.st_mtime_ns), str(st.st_ino))
    if cache is not None:
        raw = cache.get(key)
        if raw is not None:
            return raw.decode(errors="replace")
    import subprocess
    try:
        r = subprocess.run([clang, "--version"], capture_output=True, timeout=60)
    except OSError as e:
        raise CompileError(f"cannot run {clang}: {e.strerror}; {_INSTALL}") from None
    except subprocess.TimeoutExpired:
        raise CompileError(f"{clang} --version did not answer within 60 s") from None
    if r.returncode:
        raise CompileError(f"{clang} --version failed", r.stderr.decode(errors="replace"))
    out = r.stdout.decode(errors="replace")
    if cache is not None:
        cache.put(key, out.encode())
    return out


def _read_source(source) -> tuple[bytes, str | None]:
    """(source bytes, absolute path or None for text)."""
    if isinstance(source, bytes):
        return source, None
    if isinstance(source, str) and ("\n" in source or not os.path.isfile(source)):
        return source.encode(), None
    path = os.path.abspath(os.fspath(source))
    try:
        with open(path, "rb") as f:
            return f.read(), path
    except OSError as e:
        raise CompileError(f"cannot read BPF source {path}: {e.strerror}") from None


def _parse_deps(text: str) -> list[str]:
    """The prerequisites of a make rule written by ``clang -MD`` (escapes undone)."""
    text = text.replace("\\\n", " ")
    _, _, rest = text.partition(": ")
    out, cur, i = [], [], 0
    while i < len(rest):
        c = rest[i]
        if c == "\\" and i + 1 < len(rest) and rest[i + 1] in " #\\":
            cur.append(rest[i + 1])
            i += 2
            continue
        if c == "$" and rest[i + 1:i + 2] == "$":
            cur.append("$")
            i += 2
            continue
        if c.isspace():
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        out.append("".join(cur))
    return [p for p in out if p != "-"]


def _stat_id(st: os.stat_result) -> list[int]:
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _sha_file(path: str) -> str:
    with open(path, "rb") as f:
        from ._hash import sha256
        return sha256(f.read()).hexdigest()


def _object_key(head: str, deps: list[list], restat: list | None = None) -> str | None:
    """The object's key from the manifest's headers, re-hashing any whose stat changed
    (appending their fresh entries to ``restat``); None if a header is gone."""
    parts: list[str] = [head]
    for path, *sid, sha in deps:
        try:
            st = os.stat(path)
            if _stat_id(st) != sid:
                sha = _sha_file(path)
                if restat is not None:
                    restat.append([path, *_stat_id(st), sha])
        except OSError:
            return None
        parts += [path, sha]
    return key_of(*parts)


def compile(source, *, cflags=(), includes=(), cache: Cache | None | _Default = DEFAULT,
            clang: str | None = None, target_arch: str | None = None) -> bytes:
    """Compile BPF C (text, bytes or a path) to ELF object bytes, through the cache.

    ``cache=None`` compiles without one (and generates vmlinux.h in a temporary dir).
    """
    if isinstance(cache, _Default):
        cache = Cache.default()
    src, src_path = _read_source(source)
    arch = _ARCH.get(target_arch, target_arch) if target_arch else host_arch()
    clang = (_which(clang) or clang) if clang else find_clang()
    version = clang_version(clang, cache)
    if cache is None:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="pybpf-cc-") as tmp:
            vdir, _ = _vmlinux_dir(None, tmp)
            args = _clang_args(arch, cflags, includes, src_path, vdir)
            return _run_clang(clang, args, src, src_path, tmp)[0]
    vdir, identity = _vmlinux_dir(cache, "")
    args = _clang_args(arch, cflags, includes, src_path, vdir)
    head = key_of(_VERSION, src, src_path or "", "\0".join(args), version, identity)
    manifest = cache.get(head)
    if manifest is not None:
        try:
            # marshal, not json: the manifest is read on every warm start, and the cache
            # is private (checked), so a fast builtin format is enough
            deps = marshal.loads(manifest)["deps"]
            restat: list = []
            key = _object_key(head, deps, restat)
        except (ValueError, KeyError, TypeError, EOFError):
            key = None
        if key is not None:
            obj = cache.get(key)
            if obj is not None:
                if restat:
                    # a header was touched but its content is the same: remember its new
                    # stat, so the next start does not hash it again (vmlinux.h is MBs)
                    fresh = {d[0]: d for d in restat}
                    cache.put(head, marshal.dumps({"deps": [fresh.get(d[0], d)
                                                            for d in deps]}))
                return obj
    if vdir:
        from .btf.cformat import vmlinux_h
        vmlinux_h(cache)
    import tempfile
    with tempfile.TemporaryDirectory(prefix="pybpf-cc-") as tmp:
        obj, dep_paths = _run_clang(clang, args, src, src_path, tmp)
    deps = []
    for p in sorted(set(dep_paths)):
        try:
            deps.append([p, *_stat_id(os.stat(p)), _sha_file(p)])
        except OSError:
            return obj  # a header vanished under us: do not cache
    key = _object_key(head, deps)
    if key is not None:
        cache.put(key, obj)
        cache.put(head, marshal.dumps({"deps": deps}))
    return obj


def _clang_args(arch: str, cflags, includes, src_path: str | None,
                vdir: str | None) -> list[str]:
    incs = [os.path.abspath(i) for i in includes]
    if src_path:
        incs.append(os.path.dirname(src_path))
    if vdir:
        incs.append(vdir)
    incs.append(f"/usr/include/{_TRIPLE.get(arch, arch + '-linux-gnu')}")
    return ["-O2", "-g", "-target", "bpf", f"-D__TARGET_ARCH_{arch}", *map(str, cflags),
            *(f"-I{i}" for i in incs)]


def _vmlinux_dir(cache: Cache | None, tmp: str) -> tuple[str | None, str]:
    """(directory holding vmlinux.h for the running kernel, BTF identity); with no cache
    the header is generated into ``tmp``."""
    from .kernelid import VMLINUX, header_key, kernel_btf_identity
    if not os.path.exists(VMLINUX):
        return None, ""
    if cache is not None:
        identity = kernel_btf_identity(cache)
        return cache.dir_for(header_key(identity)), identity
    from .btf import cformat
    from .btf.kernel import load_vmlinux
    spec = load_vmlinux()
    with open(os.path.join(tmp, "vmlinux.h"), "w") as f:
        f.write(cformat.generate_header(spec))
    return tmp, spec.identity


def _run_clang(clang: str, args: list[str], src: bytes, src_path: str | None,
               tmp: str) -> tuple[bytes, list[str]]:
    """Run clang once; (object bytes, absolute paths of every file it read)."""
    out, dep = os.path.join(tmp, "out.o"), os.path.join(tmp, "out.d")
    # from a file, clang records its name, so verifier errors point at it
    import shlex
    import subprocess
    argv = [clang, *args, "-MD", "-MF", dep, "-c", "-x", "c", src_path or "-", "-o", out]
    try:
        r = subprocess.run(argv, input=None if src_path else src, capture_output=True)
    except OSError as e:
        raise CompileError(f"cannot run {clang}: {e.strerror}; {_INSTALL}", "", argv) from None
    if r.returncode:
        raise CompileError(f"clang failed ({shlex.join(argv)})",
                           r.stderr.decode(errors="replace"), argv)
    with open(out, "rb") as f:
        obj = f.read()
    try:
        with open(dep) as f:
            deps = _parse_deps(f.read())
    except OSError:
        deps = []
    return obj, [os.path.abspath(p) for p in deps]


def compile_file(path: str | os.PathLike, out_path: str | os.PathLike, **kwargs) -> str:
    """Compile ``path`` and write the object to ``out_path`` (atomically); returns it."""
    import pathlib
    obj = compile(pathlib.Path(path), **kwargs)
    out = os.fspath(out_path)
    tmp = f"{out}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(obj)
    os.replace(tmp, out)
    return out
