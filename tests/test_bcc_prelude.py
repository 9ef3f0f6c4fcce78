"""The per-kernel build inputs of bcc-dialect compiles (pybpf.bcc.prelude) made somewhere
else than where they are used: the kernel-matrix guest reads the companions and the
precompiled header its host made (tests/vm/guestbtf.py) over 9p, where inode numbers differ.
"""

from __future__ import annotations

import os
import shutil

from pybpf.bcc import prelude

INC = [os.path.join(os.path.dirname(prelude.__file__), "include")]
HEADER = b"""struct dentry {
	int d_flags;
	unsigned char d_iname[40];
};

struct task_struct {
	int pid;
	struct task_struct *real_parent;
};

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
enum bpf_map_type { BPF_MAP_TYPE_HASH = 1 };
"""


def test_pch_made_elsewhere_is_found_under_another_inode(tmp_path):
    from pybpf.cache import Cache
    cache = Cache(str(tmp_path / "cache"))
    vdir = cache.dir_for("a-guest-kernel")
    cache.write_sealed(os.path.join(vdir, "vmlinux.h"), HEADER)
    prelude.write_companions(cache, vdir)
    with open(os.path.join(vdir, "pybpf_kernel.h")) as f:
        assert "#define DNAME_INLINE_LEN 40" in f.read()
    made = prelude.pch(vdir, INC, cache=cache)
    assert made and os.path.getsize(made) > 0
    # the same bytes and mtime under a new inode (what 9p shows the guest): same PCH
    h = os.path.join(vdir, "vmlinux.h")
    ino = os.stat(h).st_ino
    shutil.copy2(h, h + ".new")
    os.replace(h + ".new", h)
    assert os.stat(h).st_ino != ino
    assert prelude.pch(vdir, INC, build=False, cache=cache) == made
    # a regenerated header (other bytes, a new mtime) is another PCH's
    cache.write_sealed(h, HEADER + b"typedef int extra_t;\n")
    os.utime(h, ns=(os.stat(h).st_atime_ns, os.stat(made).st_mtime_ns + 10**9))
    assert prelude.pch(vdir, INC, build=False, cache=cache) is None
