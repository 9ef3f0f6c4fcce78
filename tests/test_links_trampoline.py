"""fmod_ret and an LSM policy from C objects: they fire in the kernel-matrix VM; here (no
BPF trampolines) loading them raises NotSupportedError naming the hook."""

from __future__ import annotations

import contextlib
import errno
import os

import pytest

import pybpf
from pybpf import errors
from pybpf.features import Features
from pybpf.links import tracing
from tests.vm import hook_absent

pytestmark = pytest.mark.kernel

FMOD = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(pt_fmod_ret, int a, int *b, int ret)
{
    return 1234;        /* non-zero: the traced function is skipped, this is its result */
}
char LICENSE[] SEC("license") = "GPL";
"""

LSM = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int target_tgid = 0;
int denied = 0;

SEC("lsm/file_open")
int BPF_PROG(pt_lsm_deny, struct file *file, int ret)
{
    if (ret)
        return ret;
    if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
        return 0;
    __sync_fetch_and_add(&denied, 1);
    return -1;          /* -EPERM, for the test process only */
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.needs_hook("fentry")
def test_fmod_ret_replaces_the_return_value():
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(FMOD), name="pt_fmod")
    if not Features().has_trampolines():
        with pytest.raises(errors.NotSupportedError, match="fmod_ret|trampoline|fentry"):
            pybpf.load(spec).close()
        hook_absent()
        return
    with pybpf.load(spec) as obj:
        prog = obj.programs["pt_fmod_ret"]
        with tracing.attach(prog) as link:
            assert link.kind in ("fmod_ret", "tracing")
            r = prog.test_run()
        # test_run calls bpf_modify_return_test(1, &b): our 1234 came back and the body
        # (which sets b) never ran, which the kernel reports in bit 16.  Kernels >= 6.10
        # add bpf_modify_return_test2()'s untraced result (29) to the low bits.
        assert r.retval >> 16 == 1 and (r.retval & 0xffff) in (1234, 1234 + 29)


@contextlib.contextmanager
def denying_lsm(spec, f, absent: str = "(?i)lsm"):
    """Load and attach ``spec``, an LSM program that fails file_open for this process, and
    check that opening ``f`` is denied while it is attached and allowed after; yields the
    object for more checks.  Where the kernel has no BPF LSM: that the load says so (an
    error matching ``absent``), recorded as the hook missing, and yields None."""
    f.write_text("x")
    if not Features().has_lsm():
        with pytest.raises(errors.NotSupportedError, match=absent):
            with pybpf.load(spec) as obj:
                obj.attach()
        hook_absent()
        yield None
        return
    with pybpf.load(spec) as obj:
        obj.attach()
        with pytest.raises(PermissionError) as ei:
            open(f).close()
        assert ei.value.errno == errno.EPERM
        yield obj
    assert open(f).read() == "x"        # detached: allowed again


@pytest.mark.needs_hook("lsm")
def test_lsm_denies_the_test_process_until_detached(tmp_path):
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(LSM), name="pt_lsm")
    spec.set_global("target_tgid", os.getpid())
    f = tmp_path / "guarded"
    with denying_lsm(spec, f) as obj:
        if obj is not None:
            # another process is not affected
            assert os.system(f"cat {f} > /dev/null") == 0
            assert int.from_bytes(obj.global_value("denied"), "little") >= 1


MODULE_FENTRY = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

int opened = 0;

SEC("fentry/veth_open")             /* veth is a module: found in its BTF, not vmlinux's */
int BPF_PROG(pt_veth_open, struct net_device *dev)
{
    __sync_fetch_and_add(&opened, 1);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def _ip(*args: str, check: bool = True) -> None:
    import subprocess
    subprocess.run(["ip", *args], check=check, capture_output=True)


@pytest.mark.needs_hook("fentry")
def test_fentry_on_a_module_function():
    obj_bytes = pybpf.compile(MODULE_FENTRY)
    if not Features().has_trampolines():
        with pytest.raises(errors.NotSupportedError, match="(?i)trampoline"):
            pybpf.load(obj_bytes, name="pt_modf").close()
        hook_absent()
        return
    _ip("link", "add", "pt-mf0", "type", "veth", "peer", "name", "pt-mf1")  # loads veth.ko
    try:
        assert os.path.exists("/sys/kernel/btf/veth"), "veth is not a module with BTF here"
        with pybpf.load(obj_bytes, name="pt_modf") as obj:
            obj.attach()
            _ip("link", "set", "pt-mf0", "up")
            assert int.from_bytes(obj.global_value("opened"), "little") >= 1
    finally:
        _ip("link", "del", "pt-mf0", check=False)
