"""The running kernel's BTF (vmlinux and modules), indexed once and cached on disk.

vmlinux has ~130k types; decoding them all costs seconds, so a Spec only records
where each type starts and decodes on access.  That index is saved per kernel
(keyed by a hash of the BTF bytes) in the user's private cache directory.
"""

from __future__ import annotations

import hashlib
import os
import struct
from array import array

from .spec import Spec, _HDR, _index

VMLINUX = "/sys/kernel/btf/vmlinux"


def cache_dir() -> str | None:
    """The per-user cache dir (0700, ours), or None when it is unusable or unsafe."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(root, "pybpf")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return None
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return None  # someone else could plant an index here: do not trust it
    return path


def _read_index(path: str, count_hint: int) -> tuple[array, array] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        data = os.read(fd, st.st_size)
    finally:
        os.close(fd)
    if len(data) < 4:
        return None
    n = struct.unpack_from("<I", data)[0]
    if len(data) != 4 + 8 * n:
        return None
    offs, names = array("I"), array("I")
    offs.frombytes(data[4:4 + 4 * n])
    names.frombytes(data[4 + 4 * n:])
    return offs, names


def _write_index(path: str, idx: tuple[array, array]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(struct.pack("<I", len(idx[0])) + idx[0].tobytes() + idx[1].tobytes())
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def load_file(path: str, base: Spec | None = None, use_cache: bool = True) -> Spec:
    with open(path, "rb") as f:
        data = f.read()
    key = hashlib.blake2b(data, digest_size=16).hexdigest()
    d = cache_dir() if use_cache else None
    idx = None
    cpath = os.path.join(d, f"btf-index-{key}") if d else None
    if cpath:
        idx = _read_index(cpath, 0)
    if idx is None:
        hdr_len, t_off, t_len = _HDR.unpack_from(data)[3:6]
        t0 = hdr_len + t_off
        idx = _index(data, t0, t0 + t_len)
        if cpath:
            _write_index(cpath, idx)
    spec = Spec.parse(data, base, index=idx)
    spec.identity = key
    return spec


def load_vmlinux() -> Spec:
    """The running kernel's BTF, lazily decoded."""
    return load_file(VMLINUX)


def load_module(name: str, vmlinux: Spec | None = None) -> Spec:
    """A module's split BTF on top of vmlinux."""
    return load_file(os.path.join("/sys/kernel/btf", name), vmlinux or load_vmlinux())


def kernel_key() -> str:
    """A cheap identity of the running kernel's BTF, for caches: the kernel build string,
    the BTF size and this boot's id (kernel BTF cannot change without a reboot)."""
    u = os.uname()
    try:
        size = os.stat(VMLINUX).st_size
    except OSError:
        size = 0
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    raw = f"{u.release}|{u.version}|{u.machine}|{size}|{boot}"
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()
