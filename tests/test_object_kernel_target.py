"""A kernel hook set before load for programs whose section names none, or a placeholder
(Tetragon's SEC("lsm"), SEC("fentry/generic_fentry_tail"): its loader picks the hook at run
time): ``spec.set_attach_target(prog, None, hook)``, libbpf's
bpf_program__set_attach_target(prog, 0, hook).  tp_btf runs here; lsm in the VM."""

from __future__ import annotations

import os
import subprocess

import pytest

import pybpf
from pybpf import errors
from tests.test_links_trampoline import denying_lsm

TP_BTF = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u32);
} pt_kt_execs SEC(".maps");

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("tp_btf")
int pt_kt_exec(__u64 *ctx)
{
    __u32 pid = (__u32)ctx[1], one = 1, *n;

    n = bpf_map_lookup_elem(&pt_kt_execs, &pid);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&pt_kt_execs, &pid, &one, BPF_NOEXIST);
    return 0;
}

SEC("socket")
int pt_kt_sock(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""

LSM = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int target_tgid = 0;

SEC("lsm")
int BPF_PROG(pt_kt_lsm, struct file *file, int ret)
{
    if (ret || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
        return ret;
    return -1;          /* -EPERM, for the test process only */
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def tp_btf_bytes() -> bytes:
    return pybpf.compile(TP_BTF)


def test_only_btf_attached_programs_take_a_kernel_hook(tp_btf_bytes):
    spec = pybpf.ObjectSpec.from_bytes(tp_btf_bytes, name="pt_kt")
    with pytest.raises(ValueError, match="'pt_kt_sock'.*not attached through a kernel BTF"):
        spec.set_attach_target("pt_kt_sock", None, "sched_process_exec")
    with pytest.raises(ValueError, match="name the kernel function"):
        spec.set_attach_target("pt_kt_exec", None, "")
    spec.set_attach_target("pt_kt_exec", None, "sched_process_exec")
    assert spec.programs["pt_kt_exec"].sec_info.btf_target() == \
        ("btf_trace_sched_process_exec", "typedef", "")
    again = pybpf.ObjectSpec.from_bytes(tp_btf_bytes, name="pt_kt")
    assert again.programs["pt_kt_exec"].sec_info.btf_target() is None   # not shared


@pytest.mark.kernel
def test_a_hookless_section_is_refused_naming_the_call(tp_btf_bytes):
    with pytest.raises(errors.ELFError) as ei:
        pybpf.load(tp_btf_bytes, name="pt_kt")
    msg = str(ei.value)
    assert "\n" not in msg and "'pt_kt_exec' in 'tp_btf' names no attach target" in msg
    assert "set_attach_target('pt_kt_exec', None, 'hook')" in msg


@pytest.mark.kernel
def test_tp_btf_loads_against_the_hook_set_and_counts_each_exec(tp_btf_bytes):
    spec = pybpf.ObjectSpec.from_bytes(tp_btf_bytes, name="pt_kt")
    spec.programs["pt_kt_sock"].autoload = False
    spec.set_attach_target("pt_kt_exec", None, "sched_process_exec")
    with pybpf.load(spec) as obj:
        (link,) = obj.attach()
        pids = []
        for _ in range(3):
            child = subprocess.Popen(["/bin/true"])
            pids.append(child.pid)
            child.wait()
        link.close()
        seen = obj.maps["pt_kt_execs"]
        for pid in pids:                    # each child exec'd once, under its own pid
            assert int.from_bytes(seen.lookup_raw(pid.to_bytes(4, "little")),
                                  "little") == 1


@pytest.mark.kernel
@pytest.mark.needs_hook("lsm")
def test_a_bare_lsm_section_loads_against_the_hook_set(tmp_path):
    spec = pybpf.ObjectSpec.from_bytes(pybpf.compile(LSM), name="pt_kt_lsm")
    spec.set_global("target_tgid", os.getpid())
    spec.set_attach_target("pt_kt_lsm", None, "file_open")
    with denying_lsm(spec, tmp_path / "guarded", absent="(?i)lsm|trampoline"):
        pass


@pytest.mark.kernel
def test_a_hook_the_kernel_lacks_names_the_call_to_set_another(tp_btf_bytes):
    """Tetragon's SEC("fentry/generic_fentry_tail") is a placeholder its loader replaces."""
    spec = pybpf.ObjectSpec.from_bytes(tp_btf_bytes, name="pt_kt")
    spec.set_attach_target("pt_kt_exec", None, "pt_no_such_tracepoint")
    with pytest.raises(errors.NotFoundError) as ei:
        pybpf.load(spec)
    msg = str(ei.value)
    assert "\n" not in msg and "no typedef 'btf_trace_pt_no_such_tracepoint'" in msg
    assert "set_attach_target('pt_kt_exec', None, 'hook') names another" in msg
