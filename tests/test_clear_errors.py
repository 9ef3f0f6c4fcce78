"""Errors that say what is really wrong: no TypeError for a missing tracepoint, no "needs
CAP_BPF, run as root" when running as root for something else entirely."""

from __future__ import annotations

import errno

import pytest

import pybpf
from pybpf import caps, errors


def test_eperm_is_a_missing_privilege_only_without_one(monkeypatch):
    monkeypatch.setattr(caps, "effective", lambda: 0)
    e = errors.from_errno(errno.EPERM, "BPF_OBJ_GET", "/x")
    assert isinstance(e, errors.MissingPrivilegeError)
    monkeypatch.setattr(caps, "effective", lambda: (1 << 41) - 1)    # every capability
    e = errors.from_errno(errno.EACCES, "BPF_OBJ_GET", "/x")
    assert not isinstance(e, errors.MissingPrivilegeError)
    assert isinstance(e, errors.KernelError) and "CAP_" not in str(e)


def test_capability_masks():
    assert caps.can_trace(1 << caps.CAP_SYS_ADMIN)
    assert caps.can_trace(1 << caps.CAP_BPF | 1 << caps.CAP_PERFMON)
    assert not caps.can_trace(1 << caps.CAP_BPF)
    assert caps.can_bpf(1 << caps.CAP_BPF) and not caps.can_bpf(1 << caps.CAP_NET_ADMIN)


@pytest.mark.kernel
def test_missing_tracepoint_is_not_found_not_typeerror():
    with pytest.raises(errors.NotFoundError, match="nosuchcat:nosuchevent does not exist"):
        pybpf.BPF(text="TRACEPOINT_PROBE(nosuchcat, nosuchevent) { return 0; }")


@pytest.mark.kernel
def test_reading_past_the_tracepoint_record_is_named():
    text = ("TRACEPOINT_PROBE(sched, sched_switch) {"
            " u64 x = *(u64 *)((char *)args + 4000); bpf_trace_printk(\"%d\", x); return 0; }")
    with pytest.raises(errors.AttachError, match="reads past the end of the tracepoint") as ei:
        pybpf.BPF(text=text)
    assert not isinstance(ei.value, errors.MissingPrivilegeError)


SRC = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
const volatile __u32 frozen = 1;
__u32 writable = 2;
SEC("socket") int prog(void *ctx) { return frozen + writable; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.kernel
def test_set_global_on_rodata_says_it_is_read_only():
    with pybpf.load(pybpf.compile(SRC), name="h12_ro") as obj:
        obj.set_global("writable", 5)
        with pytest.raises(errors.PybpfError, match="read-only once loaded") as ei:
            obj.set_global("frozen", 5)
        assert not isinstance(ei.value, errors.MissingPrivilegeError)
        assert isinstance(ei.value, AttributeError)          # as obj.rodata.frozen = 5 raises
        assert "variables=" in str(ei.value)


LONG_NAME_SRC = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("socket") int rejected_with_a_long_name(struct __sk_buff *skb)
{
    return *(int *)(long)skb->len;      /* a scalar dereferenced: the verifier refuses */
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.kernel
def test_a_verifier_rejection_names_the_program_in_full():
    """The kernel keeps 15 characters of a program's name; the error names the program as
    its source does (Tetragon's generic_usdt_actions was 'generic_usdt_ac'), with the C line."""
    with pytest.raises(errors.VerifierError) as ei:
        pybpf.load(pybpf.compile(LONG_NAME_SRC), name="pt_longname")
    first = str(ei.value).splitlines()[0]
    assert ei.value.program == "rejected_with_a_long_name"
    assert "program 'rejected_with_a_long_name' at instruction" in first
    assert ":5)" in first              # the C line (compiled from a string: no text)


ABSENT_TYPE_SRC = """#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
/* a CO-RE type the kernel lacks: Inspektor Gadget's socket maps are relocated against
   another object's BTF, which a plain load does not have */
struct pybpf_absent_value { __u64 pad; __u32 mntns; } __attribute__((preserve_access_index));
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);
         __type(value, struct pybpf_absent_value); } vals SEC(".maps");
static __noinline int helper(struct __sk_buff *skb)
{
    __u32 k = 0;
    struct pybpf_absent_value *v = bpf_map_lookup_elem(&vals, &k);
    return v ? v->mntns : skb->len;
}
SEC("socket") int reads_absent(struct __sk_buff *skb) { return helper(skb) + 1; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.kernel
def test_an_unresolved_core_relocation_reached_is_named():
    """A poisoned instruction the verifier reaches (in a subprogram here) is named by its
    relocation, as libbpf rewrites the log, not as the kernel's 'invalid func
    unknown#195896080'."""
    with pytest.raises(errors.VerifierError) as ei:
        pybpf.load(pybpf.compile(ABSENT_TYPE_SRC), name="pt_absent")
    first = str(ei.value).splitlines()[0]
    assert ei.value.program == "reads_absent"
    assert ("unresolved CO-RE relocation: byte_off of struct pybpf_absent_value.mntns "
            "(access 0:1) has no match in the kernel's BTF") in first
    assert "unknown#" not in str(ei.value)
    assert "newer than this kernel" not in str(ei.value)       # the poison is no helper


def test_unknown_helper_names_helpers_not_poisoned_calls():
    """A helper the kernel lacks is named; a poisoned call (CO-RE 0xbad2310, kfunc
    2002000000+) is not a helper, and the loader names it."""
    from pybpf import loaderror
    assert loaderror._unknown_helper("0: invalid func unknown#174\n").startswith(
        "bpf_get_attach_cookie (#174) is newer than this kernel")
    assert loaderror._unknown_helper("invalid func unknown#195896080\n") is None
    assert loaderror._unknown_helper("invalid func unknown#2002000003\n") is None
