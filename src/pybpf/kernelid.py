"""Cheap identities of the running kernel's BTF, for cache keys.

Kept outside ``pybpf.btf`` so a warm start (a compile-cache hit) can name its cache
entries without importing the BTF type model.
"""

from __future__ import annotations

import os

from ._hash import sha256

VMLINUX = "/sys/kernel/btf/vmlinux"
HEADER_GENERATOR_VERSION = 1     # bump when btf/cformat.py changes its output


def release_tuple(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of a kernel release ("5.10.0-46-amd64" -> (5, 10); the running
    kernel's by default); (0, 0) when the string does not start with them."""
    from .object.kconfig import kernel_version_code     # the one release parser
    code = kernel_version_code(release)
    return code >> 16, (code >> 8) & 0xff


_memo: list[str] = []          # one per process: the running kernel cannot change under it


def kernel_key() -> str:
    """A cheap identity of the running kernel's BTF, for caches: the kernel build string,
    the BTF size and this boot's id (kernel BTF cannot change without a reboot)."""
    if _memo:
        return _memo[0]             # a tool's start asks twice (its object, its plan)
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
    _memo.append(sha256(raw.encode()).hexdigest()[:32])
    return _memo[0]


def module_btf_names() -> list[str]:
    """Names of the loaded modules that have BTF (/sys/kernel/btf/<module>), sorted."""
    try:
        return sorted(n for n in os.listdir(os.path.dirname(VMLINUX)) if n != "vmlinux")
    except OSError:
        return []


def kernel_btf_identity(cache) -> str:
    """``Spec.identity`` of the running kernel's BTF, remembered per boot so a warm
    start does not hash the 5 MB blob."""
    key = sha256(f"pybpf-btf-identity|{kernel_key()}".encode()).hexdigest()
    raw = cache.get(key)
    if raw is not None and len(raw) == 32:
        return raw.decode()
    with open(VMLINUX, "rb") as f:
        from ._hash import blake2b
        identity = blake2b(f.read(), digest_size=16).hexdigest()
    cache.put(key, identity.encode())
    return identity


def header_key(identity: str) -> str:
    """Cache key of the vmlinux.h generated for the kernel BTF with ``identity``."""
    raw = f"pybpf-vmlinux.h|{HEADER_GENERATOR_VERSION}|{identity}".encode()
    return sha256(raw).hexdigest()
