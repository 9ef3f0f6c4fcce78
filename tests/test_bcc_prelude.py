"""The per-kernel build inputs of bcc-dialect compiles (pybpf.bcc.prelude) made somewhere
else than where they are used: the kernel-matrix guest reads the companions and the
precompiled header its host made (tests/vm/guestbtf.py) over 9p, where inode numbers differ.
"""

from __future__ import annotations

import os
import shutil

import pytest

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
    # clang renames its own file over the temp name: the mode still ends private, and
    # no temp file stays behind
    assert os.stat(made).st_mode & 0o777 == 0o600
    assert not [n for n in os.listdir(vdir) if n.startswith(".tmp-")]
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


MARK = '#line 1 "bpf_text"\n'


def test_trampoline_macro_headers_in_a_conditional_are_probes():
    # one KRETFUNC_PROBE header per branch before a shared body: no function to the
    # scanner, a program all the same (attached at BPF())
    from pybpf.bcc import rewrite
    rw = rewrite.rewrite(KCONFIG_TEXT)
    p = rw.probes["kretfunc____x64_sys_openat"]
    assert (p.kind, p.target, p.section, p.auto) == ("kretfunc", "__x64_sys_openat",
                                                     "fexit/__x64_sys_openat", True)
    assert list(rw.probes) == ["kretfunc____x64_sys_openat"]


def test_kconfig_defines_only_the_options_a_text_names():
    config = {"CONFIG_ARCH_HAS_SYSCALL_WRAPPER": "y", "CONFIG_NET_NS": "y",
              "CONFIG_EXT4_FS": "m", "CONFIG_NR_CPUS": "64", "CONFIG_LOCKDEP": "n",
              "CONFIG_DEFAULT_HOSTNAME": '"(none)"'}
    body = ("#if defined(CONFIG_ARCH_HAS_SYSCALL_WRAPPER)\nint a;\n#endif\n"
            "#ifdef CONFIG_EXT4_FS_MODULE\nint b;\n#endif\n#ifdef CONFIG_EXT4_FS\nint c;\n"
            "#endif\n#ifdef CONFIG_LOCKDEP\nint d;\n#endif\n#if CONFIG_NR_CPUS > 8\n"
            "int e;\n#endif\nchar *h = CONFIG_DEFAULT_HOSTNAME; /* CONFIG_ABSENT */\n")
    src = "#include <pybpf_bcc.h>\n" + MARK + body
    out = prelude.with_kconfig(src, config)
    head, _, rest = out.partition(MARK)
    assert rest == body                       # the program's own lines keep their numbers
    assert head.splitlines()[1:] == [
        "#define CONFIG_ARCH_HAS_SYSCALL_WRAPPER 1", '#define CONFIG_DEFAULT_HOSTNAME "(none)"',
        "#define CONFIG_EXT4_FS_MODULE 1", "#define CONFIG_NR_CPUS 64"]
    assert "CONFIG_NET_NS" not in head       # not named by the text
    assert prelude.with_kconfig("int x;\n", config) == "int x;\n"


# opensnoop's fexit on a syscall wrapper: bcc's kernel headers define
# CONFIG_ARCH_HAS_SYSCALL_WRAPPER, so the function's one argument is the user's pt_regs
KCONFIG_TEXT = r"""
struct last_t { char name[160]; long ret; u64 n; };
BPF_ARRAY(last, struct last_t, 1);
#if defined(CONFIG_ARCH_HAS_SYSCALL_WRAPPER)
KRETFUNC_PROBE(__x64_sys_openat, struct pt_regs *regs, int ret)
{
    const char __user *filename = (char *)PT_REGS_PARM2(regs);
#else
KRETFUNC_PROBE(__x64_sys_openat, int dfd, const char __user *filename, int flags, int ret)
{
#endif
    if ((bpf_get_current_pid_tgid() >> 32) != PID)
        return 0;
    int zero = 0;
    struct last_t *l = last.lookup(&zero);
    if (!l)
        return 0;
    bpf_probe_read_user_str(l->name, sizeof(l->name), (void *)filename);
    l->ret = ret;
    l->n++;
    return 0;
}
"""


@pytest.mark.kernel
@pytest.mark.needs_hook("fentry")
def test_syscall_fexit_takes_the_kernel_config_branch(tmp_path):
    from pybpf import BPF, errors
    from pybpf.features import Features
    from tests.vm import hook_absent
    text = KCONFIG_TEXT.replace("PID", str(os.getpid()))
    if not Features().has_trampolines():
        with pytest.raises(errors.NotSupportedError, match="trampoline"):
            BPF(text=text)
        hook_absent()
        return
    marker = str(tmp_path / "kconfig-marker")
    with open(marker, "w"):
        pass
    with BPF(text=text) as b:
        last = b["last"]
        last[0]                 # the table's first read imports modules: their opens first
        fds = [os.open(marker, os.O_RDONLY) for _ in range(3)]
        for fd in fds:
            os.close(fd)
        v = last[0]
    assert v.name.decode() == marker and v.ret == fds[-1] and v.n >= 3
