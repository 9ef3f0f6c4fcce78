"""kprobes, kretprobes, ksyscall and kprobe.multi: NotSupportedError where the kernel has no
kprobes (CONFIG_KPROBES off), firing where it has them (the kernel-matrix VM)."""

from __future__ import annotations

import os

import pytest

from tests.vm import hook_absent

from pybpf import errors
from pybpf._sys.uapi import AttachType, ProgType
from pybpf.features import Features
from pybpf.links import kprobe, symbols
from tests.data.linkprogs import no_leaked_fds  # noqa: F401  (autouse)
from tests.data.linkprogs import ArrayMap, counter_prog

pytestmark = pytest.mark.kernel
N = 50


def _getpid_loop() -> None:
    for _ in range(N):
        os.getpid()      # glibc does not cache getpid: one syscall each


def test_syscall_prefix_per_arch():
    assert symbols.syscall_prefix("x86_64") == "__x64_sys_"
    assert symbols.syscall_prefix("aarch64") == "__arm64_sys_"


def test_kallsyms_has_syscall_entry():
    name = kprobe.syscall_function("getpid")
    assert name.endswith("sys_getpid")
    with pytest.raises(errors.NotFoundError, match="pt_no_such_syscall"):
        kprobe.syscall_function("pt_no_such_syscall")


@pytest.mark.needs_hook("kprobe")
def test_kprobe_on_syscall_fires():
    with ArrayMap("pt_kp_cnt") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(), "pt_kprobe",
                                                  tgid=os.getpid()) as prog:
        if not Features().has_kprobes():
            with pytest.raises(errors.NotSupportedError, match="kprobe") as ei:
                kprobe.attach(prog, "getpid", syscall=True)
            assert ei.value.feature == "kprobes" and "CONFIG_KPROBES" in str(ei.value)
            hook_absent()
            return
        with kprobe.attach(prog, "getpid", syscall=True) as link:
            assert link.kind == "kprobe" and link.target.endswith("sys_getpid")
            _getpid_loop()
            assert m.read() >= N
        seen = m.read()
        _getpid_loop()
        assert m.read() == seen


@pytest.mark.needs_hook("kprobe")
def test_kretprobe_fires():
    func = kprobe.syscall_function("getpid")
    with ArrayMap("pt_kret_cnt") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                    "pt_kretprobe", tgid=os.getpid()) as prog:
        if not Features().has_kprobes():
            with pytest.raises(errors.NotSupportedError, match="kprobe"):
                kprobe.attach(prog, func, retprobe=True)
            hook_absent()
            return
        with kprobe.attach(prog, func, retprobe=True) as link:
            assert link.kind == "kretprobe"
            _getpid_loop()
            assert m.read() >= N


@pytest.mark.needs_hook("kprobe")
def test_kprobe_missing_function_names_it():
    with ArrayMap("pt_kp_miss") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                   "pt_kprobe_miss") as prog:
        if not Features().has_kprobes():
            with pytest.raises(errors.NotSupportedError, match="kprobe"):
                kprobe.attach(prog, "pt_no_such_function")
            hook_absent()
            return
        with pytest.raises(errors.NotFoundError, match="pt_no_such_function"):
            kprobe.attach(prog, "pt_no_such_function")


@pytest.mark.needs_hook("kprobe")
def test_kprobe_multi_glob_fires():
    func = kprobe.syscall_function("getpid")
    with ArrayMap("pt_kpm_cnt") as m, counter_prog(
            ProgType.KPROBE, m.fd.fileno(), "pt_kprobe_multi", tgid=os.getpid(),
            expected_attach_type=AttachType.TRACE_KPROBE_MULTI) as prog:
        if not Features().has_kprobe_multi():
            with pytest.raises(errors.NotSupportedError, match="kprobe.multi") as ei:
                kprobe.attach_multi(prog, func[:-3] + "pi?")
            assert ei.value.feature == "kprobe.multi"
            hook_absent()
            return
        # fprobes take only ftrace-able functions: some kernels mark the syscall wrapper
        # notrace, so match the wrapper and its body (__do_sys_getpid)
        with kprobe.attach_multi(prog, "*sys_getpi?") as link:
            assert link.kind == "kprobe_multi"
            _getpid_loop()
            assert m.read() >= N
        with pytest.raises(errors.NotFoundError):
            kprobe.attach_multi(prog, "pt_no_such_function_*")
