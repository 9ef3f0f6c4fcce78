"""Seed the guest's pybpf cache with its kernel's vmlinux.h, BTF index and bcc PCH, made here.

The guest kernel's BTF is the ``.BTF`` section of the vmlinux inside its bzImage (the
bytes /sys/kernel/btf/vmlinux shows), so the header the guest would generate in pure
Python under emulation (minutes) is generated on the host instead, into the guest's
cache (its scratch dir), under the key the guest computes from the same bytes.

Run as ``python -m tests.vm.guestbtf IMAGE``, with XDG_CACHE_HOME set to the guest's
cache base: the cache code reads it from the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys

# compressed payloads of a bzImage, found by their magic (Debian: zstd, xz; cloud: lz4)
_MAGIC = [(b"\x28\xb5\x2f\xfd", ["zstd", "-dcq"]), (b"\xfd7zXZ\x00", ["xz", "-dcq"]),
          (b"\x1f\x8b\x08\x00", ["gzip", "-dcq"]),
          (b"\x02\x21\x4c\x18", ["lz4", "-dcq"])]       # (legacy frames: Debian's cloud kernels)
_EM_X86_64 = 62


def vmlinux_btf(image: str) -> bytes:
    """The ``.BTF`` section of the kernel inside bzImage ``image``."""
    from pybpf.elf import ELFFile
    with open(image, "rb") as f:
        data = f.read()
    for magic, argv in _MAGIC:
        off = data.find(magic)
        if off < 0:
            continue
        # the decompressor stops at the payload's end and complains about the trailer
        # after it: its output, not its exit status, tells
        out = subprocess.run(argv, input=data[off:], capture_output=True).stdout
        if out[:4] != b"\x7fELF":
            continue
        sec = ELFFile(out, _EM_X86_64).section(".BTF")
        if sec is not None:
            return bytes(sec.data)
    raise ValueError(f"no .BTF section found in {image}")


def main(argv: list[str]) -> int:
    from pybpf.btf.cformat import vmlinux_h
    from pybpf.btf.kernel import load_file
    from pybpf.cache import Cache
    cache = Cache.default()
    path = os.path.join(cache.check(), "guest-btf-vmlinux")
    with open(path, "wb") as f:
        f.write(vmlinux_btf(argv[0]))
    spec = load_file(path)          # also stores the BTF index, keyed by these bytes
    header = vmlinux_h(cache, spec)
    os.unlink(path)
    # bcc-dialect compiles' companions and precompiled header (bcc/prelude.py): clang
    # would spend minutes on the PCH under emulation, the first time a bcc text compiles
    from pybpf.bcc import prelude
    vdir = os.path.dirname(header)
    prelude.write_companions(cache, vdir)
    inc = os.path.join(os.path.dirname(prelude.__file__), "include")
    prelude.pch(vdir, [inc], cache=cache)
    print(spec.identity)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
