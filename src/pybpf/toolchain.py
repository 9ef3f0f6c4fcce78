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


_SYSTEM_BIN = "/usr/bin"
_LLVM_ROOT = "/usr/lib"           # Debian/Ubuntu: /usr/lib/llvm-N/bin/clang
_TRUST = ("pybpf runs the compiler as root, so it must be a file only root can change, "
          "in directories only root can change")


def _trusted(path: str) -> str | None:
    """Why ``path`` may not be run as the compiler, or None if it may."""
    from .safepath import UnsafePath, trusted_file
    try:
        trusted_file(path)
    except UnsafePath as e:
        return e.reason
    except OSError as e:
        return e.strerror or str(e)
    return None if os.access(path, os.X_OK) else f"{path} is not executable"


def _candidates() -> list[tuple[int, int, str]]:
    """(version, rank, path) of every clang-N on PATH and in the system's places; rank
    orders equal versions: /usr/bin first, then the LLVM tree, then PATH order."""
    out = []
    dirs = [_SYSTEM_BIN] + [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep)
                            if d and os.path.isabs(d)]
    for rank, d in enumerate(dirs):
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            ver = name[6:]
            if name.startswith("clang-") and ver.isdigit():
                out.append((int(ver), 0 if rank == 0 else rank + 1, os.path.join(d, name)))
    try:
        for name in os.listdir(_LLVM_ROOT):
            if name.startswith("llvm-") and name[5:].isdigit():
                out.append((int(name[5:]), 1, os.path.join(_LLVM_ROOT, name, "bin", "clang")))
    except OSError:
        pass
    return out


def find_clang(cache: Cache | None = None) -> str:
    """The compiler to run: $PYBPF_CLANG, else the newest clang-N (preferring
    /usr/bin/clang-N), else clang; only ever a file that nobody but root can change
    (see docs/threat-model.md).  Returns an absolute path.

    With a ``cache`` the search's answer is remembered under the state of the directories
    it listed (their mtimes change when a clang-N is added or removed), so a warm start
    lists no directory; the remembered file is checked for trust again every time."""
    if cache is not None and not os.environ.get("PYBPF_CLANG"):
        key = _search_key()
        raw = cache.get(key) if key else None
        if raw:
            path = raw.decode(errors="replace")
            if os.path.isfile(path) and _trusted(path) is None:
                return path
        path = find_clang()
        if key:
            cache.put(key, path.encode())
        return path
    env = os.environ.get("PYBPF_CLANG")
    if env:
        path = env if "/" in env else _which(env)
        if path is None or not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise CompileError(f"PYBPF_CLANG={env!r} is not an executable; {_INSTALL}")
        why = _trusted(path)
        if why:
            raise CompileError(f"refusing PYBPF_CLANG={env!r}: {why}; {_TRUST}")
        return os.path.abspath(path)
    refused = []
    for _, _, path in sorted(_candidates(), key=lambda c: (-c[0], c[1])):
        if not os.path.isfile(path):
            continue
        why = _trusted(path)
        if why is None:
            return os.path.abspath(path)
        refused.append(f"{path} ({why})")
    for d in [_SYSTEM_BIN] + os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(d, "clang")
        if d and os.path.isabs(d) and os.path.isfile(path):
            why = _trusted(path)
            if why is None:
                return path
            refused.append(f"{path} ({why})")
    if refused:
        raise CompileError(f"no trusted clang found; refused {'; '.join(refused)}; "
                           f"{_TRUST}")
    raise CompileError(f"no clang found: {_INSTALL}")


def _search_dirs() -> list[str]:
    """The directories whose entries decide which clang :func:`find_clang` picks."""
    return [_SYSTEM_BIN, _LLVM_ROOT] + os.environ.get("PATH", os.defpath).split(os.pathsep)


def _search_key() -> str | None:
    """Cache key of the clang search: PATH and the mtime of every directory it lists."""
    parts = []
    for d in _search_dirs():
        try:
            st = os.stat(d)
        except OSError:
            parts.append(d + "\0-")
            continue
        parts.append(f"{d}\0{st.st_ino}\0{st.st_mtime_ns}")
    return key_of("clang-search", *parts)


def host_arch(machine: str | None = None) -> str:
    """The kernel's name (``__TARGET_ARCH_<name>``) for a machine (default: this one)."""
    m = machine or os.uname().machine
    return _ARCH.get(m, m)


def clang_version(clang: str, cache: Cache | None) -> str:
    """``clang --version``, remembered per binary (real path, size, mtime; not the inode:
    the kernel-matrix guest reads the binary over 9p, under other inode numbers, and its
    cache is seeded on the host, where clang answers in milliseconds, not a minute)."""
    real = os.path.realpath(clang)
    try:
        st = os.stat(real)
    except OSError:
        raise CompileError(f"clang {clang!r} not found; {_INSTALL}") from None
    key = key_of("clang-version", real, str(st.st_size), str(st.st_mtime_ns))
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
            clang: str | None = None, target_arch: str | None = None,
            deps: list | None = None) -> bytes:
    """Compile BPF C (text, bytes or a path) to ELF object bytes, through the cache.

    ``cache=None`` compiles without one (and generates vmlinux.h in a temporary dir).
    ``deps``, a list, receives ``[path, inode, size, mtime_ns, ctime_ns]`` of every file
    and directory the object depends on (the headers clang read, the compiler, the
    directories the compiler was searched in), for records that stay valid while those
    are unchanged (:mod:`pybpf.srcrecord`); it stays empty when the answer is not known
    (no cache, a prebuilt object).
    """
    if isinstance(cache, _Default):
        cache = Cache.default()
    src, src_path = _read_source(source)
    arch = _ARCH.get(target_arch, target_arch) if target_arch else host_arch()
    pre = os.environ.get("PYBPF_PREBUILT")
    if pre and src_path and clang is None:
        # objects root compiled ahead for this checkout (see pybpf.prebuilt)
        from .prebuilt import lookup
        obj = lookup(pre, src, src_path, _clang_args(arch, cflags, includes, src_path, None))
        if obj is not None:
            return obj
    clang = (_which(clang) or clang) if clang else find_clang(cache)
    version = clang_version(clang, cache)
    if cache is None:
        with PrivateTemp(None) as tmp:
            vdir, _ = _vmlinux_dir(None, tmp.path)
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
            headers = marshal.loads(manifest)["deps"]
            restat: list = []
            key = _object_key(head, headers, restat)
        except (ValueError, KeyError, TypeError, EOFError):
            key = None
        if key is not None:
            obj = cache.get(key)
            if obj is not None:
                fresh = {d[0]: d for d in restat}
                headers = [fresh.get(d[0], d) for d in headers]
                if restat:
                    # a header was touched but its content is the same: remember its new
                    # stat, so the next start does not hash it again (vmlinux.h is MBs)
                    cache.put(head, marshal.dumps({"deps": headers}))
                if deps is not None:
                    _depends_on(deps, headers, clang)
                return obj
    if vdir:
        ensure_vmlinux_h(cache, vdir)
    with PrivateTemp(cache) as tmp:
        obj, dep_paths = _run_clang(clang, args, src, src_path, tmp)
    headers = []
    for p in sorted(set(dep_paths)):
        try:
            headers.append([p, *_stat_id(os.stat(p)), _sha_file(p)])
        except OSError:
            return obj  # a header vanished under us: do not cache
    key = _object_key(head, headers)
    if key is not None:
        cache.put(key, obj)
        cache.put(head, marshal.dumps({"deps": headers}))
        if deps is not None:
            _depends_on(deps, headers, clang)
    return obj


def _depends_on(out: list, headers: list[list], clang: str) -> None:
    """Fill ``compile(deps=)``: the headers' stat ids as the manifest has them (taken
    when they were hashed), then the compiler and the directories it was found in, whose
    stat ids change when clang is upgraded or another clang-N is installed."""
    out.extend(list(d[:5]) for d in headers)
    # relative PATH entries are never searched (find_clang), so they are no dependency
    for path in dict.fromkeys([os.path.realpath(clang),
                               *(d for d in _search_dirs() if os.path.isabs(d))]):
        try:
            out.append([path, *_stat_id(os.stat(path))])
        except OSError:
            out.append([path])      # absent: must stay absent


def ensure_vmlinux_h(cache: Cache, vdir: str) -> bool:
    """Make sure ``vdir``'s vmlinux.h is intact (its seal checked, not just its presence:
    a truncated header would fail every compile); True if it was (re)generated now.
    Every user of the header (plain compiles, the bcc prelude and its PCH) goes through
    here.  The generator is imported only when the header must be made (tens of ms)."""
    if cache.sealed_ok(os.path.join(vdir, "vmlinux.h")):
        return False
    from .btf.cformat import vmlinux_h
    vmlinux_h(cache)
    return True


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


class PrivateTemp:
    """A directory only this process can use, for clang's output.

    Created with a random name by one mkdir (mode 0700) in the private cache directory
    (or, without a cache, in a temp directory that passes the same trust checks), opened
    with O_NOFOLLOW and checked by fstat; from then on everything goes through that open
    directory (``/proc/self/fd/N/...`` for clang, ``dir_fd`` for us), so renaming or
    replacing the directory cannot redirect a single byte.  Closing removes it; what a
    SIGKILL leaves behind is swept by the next run (:func:`pybpf.cache.sweep_temps`)."""

    def __init__(self, cache: Cache | None):
        self.cache = cache
        self.fd = -1
        self.name = ""
        self.base = ""

    def __enter__(self) -> "PrivateTemp":
        from .cache import TEMP_PREFIX, sweep_temps
        self.base = self.cache.check() if self.cache is not None else _temp_base()
        sweep_temps(self.base)
        import secrets
        self.name = f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
        full = os.path.join(self.base, self.name)
        os.mkdir(full, 0o700)
        try:
            self.fd = os.open(full, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            st = os.fstat(self.fd)
            if st.st_uid != os.geteuid() or st.st_mode & 0o7777 != 0o700:
                raise CompileError(f"temporary directory {full} was tampered with "
                                   f"(uid {st.st_uid}, mode {st.st_mode & 0o7777:o})")
        except BaseException:
            self.close()
            raise
        return self

    @property
    def path(self) -> str:
        """A path to the directory that no rename can redirect (valid in this process and
        in children given the fd)."""
        return f"/proc/self/fd/{self.fd}"

    def read(self, name: str) -> bytes:
        """A file clang wrote, opened without following links and checked to be ours."""
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid() or st.st_mode & 0o170000 != 0o100000:
                raise CompileError(f"clang output {name} is not our own regular file")
            with os.fdopen(os.dup(fd), "rb") as f:
                return f.read()
        finally:
            os.close(fd)

    def close(self) -> None:
        if self.fd >= 0:
            try:
                for n in os.listdir(self.fd):
                    try:
                        os.unlink(n, dir_fd=self.fd)
                    except OSError:
                        pass
            finally:
                os.close(self.fd)
                self.fd = -1
        if self.name:
            try:
                os.rmdir(os.path.join(self.base, self.name))
            except OSError:
                pass
            self.name = ""

    def __exit__(self, *exc) -> None:
        self.close()


def _temp_base() -> str:
    """Where a cache-less compile makes its private directory: $TMPDIR only if no other
    user can change it (else /tmp, /var/tmp)."""
    from .safepath import UnsafePath, resolve
    reasons = []
    for base in (os.environ.get("TMPDIR"), "/tmp", "/var/tmp"):
        if not base:
            continue
        try:
            real, st = resolve(base)
        except (UnsafePath, OSError) as e:
            reasons.append(f"{base}: {getattr(e, 'reason', None) or e}")
            continue
        if os.path.isdir(real):
            return real
    raise CompileError("no safe temporary directory: " + "; ".join(reasons))


_PR_SET_PDEATHSIG = 1


def _child_dies_with_parent(parent: int, prctl):
    """preexec_fn for clang: the kernel kills it (SIGKILL) when we die, even by SIGKILL."""
    def setup():
        prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
        if os.getppid() != parent:      # we died before prctl took effect
            os._exit(1)
    return setup


def _run_clang(clang: str, args: list[str], src: bytes, src_path: str | None,
               tmp: PrivateTemp) -> tuple[bytes, list[str]]:
    """Run clang once; (object bytes, absolute paths of every file it read)."""
    out, dep = tmp.path + "/out.o", tmp.path + "/out.d"
    # from a file, clang records its name, so verifier errors point at it
    import ctypes
    import shlex
    import subprocess
    argv = [clang, *args, "-MD", "-MF", dep, "-c", "-x", "c", src_path or "-", "-o", out]
    env = dict(os.environ, TMPDIR=tmp.path)
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    try:
        p = subprocess.Popen(argv, stdin=None if src_path else subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             pass_fds=(tmp.fd,),
                             preexec_fn=_child_dies_with_parent(os.getpid(), prctl))
    except OSError as e:
        raise CompileError(f"cannot run {clang}: {e.strerror}; {_INSTALL}", "", argv) from None
    try:
        _, err = p.communicate(None if src_path else src)
    finally:
        if p.returncode is None:        # interrupted (SIGINT/SIGTERM): clang goes too
            p.kill()
            p.wait()
    if p.returncode:
        raise CompileError(f"clang failed ({shlex.join(argv)})",
                           err.decode(errors="replace"), argv)
    try:
        obj = tmp.read("out.o")
    except OSError as e:
        raise CompileError(f"clang wrote no object: {e.strerror}", "", argv) from None
    try:
        deps = _parse_deps(tmp.read("out.d").decode(errors="surrogateescape"))
    except OSError:
        deps = []
    return obj, [os.path.abspath(p) for p in deps]


def compile_file(path: str | os.PathLike, out_path: str | os.PathLike, **kwargs) -> str:
    """Compile ``path`` and write the object to ``out_path`` (atomically, through a temp
    file with an unpredictable name created exclusively, never through a link); returns
    it."""
    import pathlib
    from .safepath import write_atomically
    obj = compile(pathlib.Path(path), **kwargs)
    out = os.path.abspath(os.fspath(out_path))
    write_atomically(out, obj, 0o644, prefix=".pybpf-", suffix=".o.tmp")
    return out
