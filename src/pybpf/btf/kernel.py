"""The running kernel's BTF (vmlinux and modules), indexed once and cached on disk.

vmlinux has ~130k types; decoding them all costs seconds, so a Spec only records
where each type starts and decodes on access.  That index is saved per kernel
(keyed by a hash of the BTF bytes) in the user's private cache directory.
"""

from __future__ import annotations

import os
import struct
from array import array

from .._hash import blake2b
from ..cache import cache_dir, read_private, write_private
from .spec import Spec, _HDR, _index

from ..kernelid import VMLINUX, kernel_key  # noqa: F401 (re-exported)


def _read_index(path: str) -> list[array] | None:
    """[type offsets, name offsets, sorted name offsets, ids in that order], or None."""
    data = read_private(path)
    if data is None or len(data) < 4:
        return None
    n = struct.unpack_from("<I", data)[0]
    if len(data) != 4 + 16 * n:
        return None
    out = []
    for i in range(4):
        a = array("I")
        a.frombytes(data[4 + 4 * n * i:4 + 4 * n * (i + 1)])
        out.append(a)
    return out


def load_file(path: str, base: Spec | None = None, use_cache: bool = True) -> Spec:
    with open(path, "rb") as f:
        data = f.read()
    key = blake2b(data, digest_size=16).hexdigest()
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


