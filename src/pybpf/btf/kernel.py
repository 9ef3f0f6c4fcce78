"""The running kernel's BTF (vmlinux and modules), indexed once and cached on disk.

vmlinux has ~130k types; decoding them all costs seconds, so a Spec only records
where each type starts and decodes on access.  That index is saved per kernel
(keyed by a hash of the BTF bytes) in the user's private cache directory.
"""

from __future__ import annotations

import os
import struct

from .._hash import blake2b
from ..cache import cache_dir, read_private, write_private
from .spec import Spec, _HDR, _index

from ..errors import PybpfError
from ..kernelid import VMLINUX, kernel_key  # noqa: F401 (re-exported)

_SYSFS_BTF = "/sys/kernel/btf/"


def _read_index(path: str) -> list | None:
    """[type offsets, name offsets, sorted name offsets, ids in that order] (read-only
    sequences of u32), or None.  They are views into the one buffer read: for vmlinux's
    2 MB index, copying it out again cost a fresh process more than reading it."""
    data = read_private(path, view=True)
    if data is None or len(data) < 4:
        return None
    n = struct.unpack_from("<I", data)[0]
    if len(data) != 4 + 16 * n:
        return None
    return [data[4 + 4 * n * i:4 + 4 * n * (i + 1)].cast("I") for i in range(4)]


def _read_btf(path: str):
    """The bytes of BTF file ``path``: the kernel's own BTF (under /sys/kernel/btf) is
    mapped read-only where the kernel allows it (6.16+ for vmlinux), so only the pages a
    lookup touches are read; sysfs would otherwise hand out its 5 MB a page per read().
    Anything else is read (a mapped regular file could be truncated under us)."""
    with open(path, "rb") as f:
        if path.startswith(_SYSFS_BTF):
            try:
                import mmap
                size = os.fstat(f.fileno()).st_size
                if size > 0:
                    return mmap.mmap(f.fileno(), size, flags=mmap.MAP_PRIVATE,
                                     prot=mmap.PROT_READ)
            except (OSError, ValueError):
                pass              # an older kernel: EACCES/ENODEV; read it instead
        return f.read()


def _identity(path: str, data) -> str:
    """blake2b of the BTF (``Spec.identity``); vmlinux's is remembered per boot, since it
    cannot change without a reboot and hashing it costs ~10 ms."""
    if path == VMLINUX:
        try:
            from ..cache import Cache
            from ..kernelid import kernel_btf_identity
            return kernel_btf_identity(Cache.default())
        except (OSError, PybpfError):
            pass
    return blake2b(data, digest_size=16).hexdigest()


def load_file(path: str, base: Spec | None = None, use_cache: bool = True) -> Spec:
    data = _read_btf(path)
    key = _identity(path, data)
    d = cache_dir() if use_cache else None
    idx = None
    if d:
        from ..codeid import code_identity     # the index format is pybpf's own
        cpath = os.path.join(d, f"btf-index-{key}-{code_identity()[:16]}")
    else:
        cpath = None
    if cpath:
        idx = _read_index(cpath)
    if idx is not None:
        spec = Spec.parse(data, base, index=(idx[0], idx[1]))
        spec._by_name = (idx[2], idx[3])
    else:
        hdr_len, t_off, t_len = _HDR.unpack_from(data)[3:6]
        t0 = hdr_len + t_off
        spec = Spec.parse(data, base, index=_index(data, t0, t0 + t_len))
        if cpath:
            by_name = spec._name_index()
            write_private(cpath, struct.pack("<I", len(spec._offs)) + spec._offs.tobytes()
                          + spec._name_offs.tobytes() + by_name[0].tobytes()
                          + by_name[1].tobytes())
    spec.identity = key
    return spec


def load_vmlinux() -> Spec:
    """The running kernel's BTF, lazily decoded."""
    return load_file(VMLINUX)


def load_module(name: str, vmlinux: Spec | None = None) -> Spec:
    """A module's split BTF on top of vmlinux."""
    return load_file(os.path.join("/sys/kernel/btf", name), vmlinux or load_vmlinux())


