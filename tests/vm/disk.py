"""A scratch disk for the kernel-matrix guests: block I/O tests need a real block device.

The guest's root and scratch dir are 9p and its /tmp is tmpfs: no block device under any
of them, and O_DIRECT there is EINVAL.  The host makes a sparse image with an ext4 file
system (mke2fs here: under TCG the guest's own would take far longer), qemu attaches it
over virtio-blk, the guest mounts it and names the mount in $PYBPF_VM_DISK, and tests
take their files from :func:`guest_disk_dir` (conftest's ``disk_tmp``).  The image lives
in the guest's private scratch dir, removed with it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

ENV = "PYBPF_VM_DISK"
MOUNT = "/run/pybpf-disk"
SIZE = 256 << 20            # sparse: only what mke2fs and the tests write takes room
# The only virtio-blk device of a guest whose root is 9p.
DEVICE = "/dev/vda"


class NoDisk(Exception):
    """The image could not be made (mke2fs missing or failing)."""


def make_image(directory: str) -> str:
    """A new sparse ext4 image in ``directory`` (created exclusively, mode 0600)."""
    fd, path = tempfile.mkstemp(prefix="disk-", suffix=".img", dir=directory)
    try:
        os.ftruncate(fd, SIZE)
    finally:
        os.close(fd)
    # 4 KiB blocks (mke2fs picks 1 KiB for a file this small: a 64 KiB read would span
    # more extents); no journal and inode tables written now, not by ext4lazyinit in
    # the guest: neither is block I/O any test asked for.  -F: the target is a file.
    argv = ["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-O", "^has_journal",
            "-E", "lazy_itable_init=0,nodiscard", path]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        os.unlink(path)
        raise NoDisk(f"mke2fs: {e}") from None
    if r.returncode != 0:
        os.unlink(path)
        raise NoDisk(f"mke2fs: {r.stderr.strip()[-200:]}")
    return path


def vng_args(image: str) -> list[str]:
    """virtme-ng's options attaching ``image`` (its path is also the device's serial, so
    it must hold no ',' or '=': tempfile's names do not)."""
    return ["--disk", image]


def guest_mount() -> str:
    """Shell text the guest runs before its tests: mount the disk at MOUNT and export
    ENV, or say in one line why not (the tests needing it then fail, naming ENV)."""
    m, d = shlex.quote(MOUNT), DEVICE
    # virtio_blk and ext4 are modules in Debian's kernels; the device node comes from
    # devtmpfs once the driver has probed, which may trail modprobe's return
    return (f"modprobe -q virtio_blk; i=0; while [ ! -b {d} ] && [ $i -lt 100 ]; do "
            f"sleep 0.1; i=$((i+1)); done; "
            f"if mkdir -p {m} && mount -t ext4 {d} {m} 2>/dev/null; then export {ENV}={m}; "
            f"else echo 'pybpf: the guest disk ({d}) did not mount' >&2; fi\n")


def guest_disk_dir() -> str:
    """A fresh directory on the guest's attached disk (the caller removes it)."""
    root = os.environ.get(ENV)
    if not root:
        raise NoDisk(f"no disk in this guest (${ENV} unset): block I/O tests need one")
    return tempfile.mkdtemp(prefix="t-", dir=root)
