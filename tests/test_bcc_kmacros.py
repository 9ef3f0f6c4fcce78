"""Kernel-header constants (macros, which BTF cannot carry) a bcc program names: found in
a kernel header tree (here a small one made for the test and named with bcc's
BCC_KERNEL_SOURCE, so the result does not depend on the headers a machine has), evaluated
by clang's preprocessor with the macros they use, and a one-line error for a name no
header defines; on the real kernel, a program counting a known workload's opens by
those flags."""

from __future__ import annotations

import os

import pytest

from pybpf.bcc import kmacros

FCNTL = """#ifndef _PT_FCNTL_H
#define _PT_FCNTL_H
#define O_DIRECTORY\t00200000
#define O_NOFOLLOW\t00400000
#ifdef CONFIG_PYBPF_NEVER_SET
#define PT_ONLY_WITH_CONFIG 1
#endif
#endif
"""
PRIO = """#define MAX_NICE\t19
#define MIN_NICE\t-20
#define NICE_WIDTH\t(MAX_NICE - MIN_NICE + 1)
#define PT_SCALE(x)\t((x) * NICE_WIDTH)
"""


@pytest.fixture
def tree(tmp_path, monkeypatch):
    root = tmp_path / "linux"
    (root / "include" / "uapi" / "asm-generic").mkdir(parents=True)
    (root / "include" / "linux" / "sched").mkdir(parents=True)
    (root / "include" / "uapi" / "asm-generic" / "fcntl.h").write_text(FCNTL)
    (root / "include" / "linux" / "sched" / "prio.h").write_text(PRIO)
    for d in [tmp_path, *root.rglob("*")]:
        if d.is_dir():
            os.chmod(d, 0o755)
    monkeypatch.setenv("BCC_KERNEL_SOURCE", str(root))
    return root


def test_definitions_come_with_the_macros_they_use(tree):
    look = kmacros.Lookup(["NICE_WIDTH", "O_DIRECTORY", "PT_SCALE", "NOT_ANYWHERE"])
    assert look.where["O_DIRECTORY"].endswith("uapi/asm-generic/fcntl.h")
    assert look.missing == ["NOT_ANYWHERE"]
    lines = [ln for ln in look.defines.splitlines() if ln.startswith("#define")]
    assert lines == ["#define MAX_NICE 19", "#define MIN_NICE -20",
                     "#define NICE_WIDTH (MAX_NICE - MIN_NICE + 1)",
                     "#define O_DIRECTORY 00200000",
                     "#define PT_SCALE(x) ((x) * NICE_WIDTH)"]
    assert "nor defined by its headers" in look.error("NOT_ANYWHERE")
    # defined in a header, but not under this configuration
    look = kmacros.Lookup(["PT_ONLY_WITH_CONFIG"])
    assert look.missing == ["PT_ONLY_WITH_CONFIG"]
    assert "fcntl.h) is not defined when that header is preprocessed for this kernel's " \
        "configuration" in look.error("PT_ONLY_WITH_CONFIG")


def test_headers_missing_or_not_root_owned_say_so(tmp_path, monkeypatch):
    monkeypatch.setenv("BCC_KERNEL_SOURCE", str(tmp_path / "none"))
    look = kmacros.Lookup(["O_DIRECTORY"], uapi_root=str(tmp_path / "no-uapi"))
    assert look.trees == [] and look.missing == ["O_DIRECTORY"]
    assert "headers are not installed" in look.error("O_DIRECTORY")
    (tmp_path / "w" / "include").mkdir(parents=True)
    os.chmod(tmp_path / "w", 0o777)              # writable by others: not read
    monkeypatch.setenv("BCC_KERNEL_SOURCE", str(tmp_path / "w"))
    assert kmacros.kernel_dirs() == []


IF_ETHER = """#ifndef _UAPI_LINUX_IF_ETHER_H
#define _UAPI_LINUX_IF_ETHER_H
#include <linux/types.h>
#define ETH_P_8021Q\t0x8100
#define ETH_P_QINQ_BASE\tETH_P_8021Q
#ifdef __KERNEL__
#define ETH_P_ONLY_IN_KERNEL 1
#endif
#endif
"""


def _uapi(root):
    (root / "linux").mkdir(parents=True)
    (root / "asm-generic").mkdir()
    (root / "linux" / "if_ether.h").write_text(IF_ETHER)
    (root / "linux" / "types.h").write_text("#define PT_UAPI_TYPES 1\n")
    for d in [root, *root.rglob("*")]:
        if d.is_dir():
            os.chmod(d, 0o755)
    return root


def test_without_kernel_headers_uapi_constants_come_from_the_distributions_headers(
        tmp_path, monkeypatch):
    """linux-libc-dev's UAPI headers are the kernel's stable user ABI: a bcc program's
    ``ETH_P_8021Q`` is defined from them where this kernel's headers are absent (as
    bcc would from the kernel's), preprocessed as user space sees them."""
    monkeypatch.setenv("BCC_KERNEL_SOURCE", str(tmp_path / "none"))
    root = _uapi(tmp_path / "usr-include")
    look = kmacros.Lookup(["ETH_P_QINQ_BASE", "ETH_P_ONLY_IN_KERNEL", "NOWHERE"],
                          uapi_root=str(root))
    assert look.trees == [] and look.missing == ["ETH_P_ONLY_IN_KERNEL", "NOWHERE"]
    assert [ln for ln in look.defines.splitlines() if ln.startswith("#define")] == \
        ["#define ETH_P_8021Q 0x8100", "#define ETH_P_QINQ_BASE ETH_P_8021Q"]
    assert look.where["ETH_P_QINQ_BASE"] == str(root / "linux" / "if_ether.h")
    assert "is not defined when that header is preprocessed" in \
        look.error("ETH_P_ONLY_IN_KERNEL")
    assert "headers are not installed" in look.error("NOWHERE")
    os.chmod(root, 0o777)                  # writable by others: not read
    assert kmacros.uapi_dirs(str(root)) == ([], [])


DIR_OPENS = r"""
BPF_HASH(seen, u32, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    u32 k = 0;
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID)
        return 0;
    if ((args->flags & (O_DIRECTORY | O_NOFOLLOW)) != (O_DIRECTORY | O_NOFOLLOW))
        return 0;
    seen.increment(k);
    k = 1;
    u64 w = PT_SCALE(2);
    seen.update(&k, &w);
    return 0;
}
"""


@pytest.mark.kernel
def test_a_program_uses_kernel_header_constants(tree):
    """Three opens of a directory with O_DIRECTORY | O_NOFOLLOW (Linux's values, which
    Python's os module has too) and the header's derived constant."""
    from pybpf.bcc.bpf import BPF
    from pybpf.errors import CompileError
    assert (os.O_DIRECTORY, os.O_NOFOLLOW) == (0o200000, 0o400000)
    with BPF(text=DIR_OPENS.replace("TARGET_PID", str(os.getpid()))) as b:
        for _ in range(3):
            os.close(os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
        os.close(os.open("/", os.O_RDONLY | os.O_DIRECTORY))
        got = {k.value: v.value for k, v in b["seen"].items()}
    assert got == {0: 3, 1: 80}
    with pytest.raises(CompileError) as e:
        BPF(text=DIR_OPENS.replace("TARGET_PID", "NOT_A_KERNEL_NAME"))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("bpf_text:6:") and \
        "'NOT_A_KERNEL_NAME' is not declared: not in the kernel's BTF, nor defined by " \
        "its headers" in msg, msg
