"""C in, BPF object out: run clang (never through a shell) and cache the result.

The cache is content-addressed: the key covers the source, every header the compile
read (listed by clang's dependency output and re-hashed on each lookup), clang's
identity, the flags and the kernel BTF the generated vmlinux.h came from.  Entries
live in the user's private cache dir and are used only if owned by the user.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile

from .cache import cache_dir as private_cache_dir, read_private, write_private
from .errors import CompileError

_ARCH = {"x86_64": "x86", "aarch64": "arm64", "s390x": "s390", "ppc64le": "powerpc",
         "riscv64": "riscv"}


def find_clang() -> str:
    """$PYBPF_CLANG, else the newest clang-N on PATH, else clang."""
    env = os.environ.get("PYBPF_CLANG")
    if env:
        return env
    best = None
    for d in os.environ.get("PATH", "").split(os.pathsep):
        for p in glob.glob(os.path.join(d, "clang-[0-9]*")):
            m = re.fullmatch(r"clang-(\d+)", os.path.basename(p))
            if m and os.access(p, os.X_OK) and (best is None or int(m[1]) > best[0]):
                best = (int(m[1]), p)
    if best:
        return best[1]
    p = shutil.which("clang")
    if p:
        return p
    raise CompileError("no clang found: install one (apt-get install clang-19) or set "
                       "PYBPF_CLANG")


def cache_dir() -> str:
    d = private_cache_dir()
    if d is None:
        raise CompileError("the pybpf cache directory is not private to this user; "
                           "fix its owner/permissions (~/.cache/pybpf, mode 0700)")
    return d


def vmlinux_h() -> str:
    """A directory holding vmlinux.h for the running kernel (generated once per kernel)."""
    from .btf.kernel import VMLINUX, kernel_key
    key = kernel_key()
    d = os.path.join(cache_dir(), f"vmlinux-{key}")
    path = os.path.join(d, "vmlinux.h")
    if _private_file(path):
        return d
    os.makedirs(d, mode=0o700, exist_ok=True)
    try:
        from .btf.cformat import generate_header  # generated in Python where available
        from .btf.kernel import load_vmlinux
        text = generate_header(load_vmlinux()).encode()
    except ImportError:
        bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
        r = subprocess.run([bpftool, "btf", "dump", "file", VMLINUX, "format", "c"],
                           capture_output=True)
        if r.returncode:
            raise CompileError("generating vmlinux.h failed", r.stderr.decode(errors="replace"))
        text = r.stdout
    write_private(path, text)
    return d


def _clang_id(clang: str) -> str:
    path = shutil.which(clang) or clang
    try:
        st = os.stat(path)
    except OSError:
        raise CompileError(f"clang {clang!r} not found; install clang-19 or set PYBPF_CLANG")
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"


def compile(source, *, cflags=(), includes=(), clang: str | None = None) -> bytes:
    """Compile BPF C (text, bytes or a path) to object bytes, using the cache."""
    if isinstance(source, (str, bytes)) and not (isinstance(source, str) and
                                                 "\n" not in source and os.path.exists(source)):
        src = source.encode() if isinstance(source, str) else source
        src_dir = src_path = None
    else:
        path = os.fspath(source)
        with open(path, "rb") as f:
            src = f.read()
        src_dir = os.path.dirname(os.path.abspath(path))
        src_path = os.path.abspath(path)
    arch = _ARCH.get(platform.machine(), platform.machine())
    vdir = vmlinux_h()
    inc = [*includes, *([src_dir] if src_dir else []), vdir,
           f"/usr/include/{platform.machine()}-linux-gnu"]
    args = ["-O2", "-g", "-target", "bpf", f"-D__TARGET_ARCH_{arch}", *cflags,
            *[f"-I{i}" for i in inc]]
    cdir = cache_dir()
    # first key: source + flags; it names a manifest listing the headers used last time
    head = hashlib.sha256(json.dumps([src.hex(), args]).encode()).hexdigest()
    manifest_path = os.path.join(cdir, f"obj-{head}.deps")
    manifest = read_private(manifest_path)
    if manifest is not None:
        m = json.loads(manifest)
        key = _full_key(head, m["deps"], m["clang"])
        if key is not None:
            obj = read_private(os.path.join(cdir, f"obj-{key}.o"))
            if obj is not None:
                return obj
    clang = clang or find_clang()
    cid = _clang_id(clang)
    with tempfile.TemporaryDirectory(prefix="pybpf-cc-") as tmp:
        out, dep = os.path.join(tmp, "out.o"), os.path.join(tmp, "out.d")
        # from a file, clang records its name, so verifier errors point at it
        argv = [clang, *args, "-MD", "-MF", dep, "-c", "-x", "c", src_path or "-", "-o", out]
        r = subprocess.run(argv, input=None if src_path else src, capture_output=True)
        if r.returncode:
            raise CompileError("clang failed to compile the BPF program",
                               r.stderr.decode(errors="replace"), argv)
        with open(out, "rb") as f:
            obj = f.read()
        with open(dep) as f:
            deps = sorted(p for p in f.read().replace("\\\n", " ").split()[1:]
                          if p != "-" and os.path.isabs(p))
    key = _full_key(head, deps, cid)
    if key is not None:
        write_private(os.path.join(cdir, f"obj-{key}.o"), obj)
        write_private(manifest_path, json.dumps({"deps": deps, "clang": cid}).encode())
    return obj


def _private_file(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022 and os.path.isfile(path)


def _full_key(head: str, deps: list[str], clang_id: str) -> str | None:
    """Key over the source key, clang and every header's identity.

    Headers are identified by inode, size, mtime and ctime (as ccache's direct mode does):
    any edit changes them, and hashing the 3 MB vmlinux.h on every start would cost more
    than the rest of a warm start.
    """
    h = hashlib.sha256(head.encode() + clang_id.encode())
    for p in deps:
        try:
            st = os.stat(p)
        except OSError:
            return None
        h.update(f"{p}\0{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns};".encode())
    return h.hexdigest()
