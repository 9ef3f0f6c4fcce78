"""The bcc front end where kprobes exist: what bcc's own test suite found when it ran in
the kernel-matrix guest (bench/bench_bcc_testsuite.py --guest), each fix reproduced with
programs of our own and a known workload.  On this host (no kprobes) the same programs
run on the syscall-tracepoint stand-ins; the kprobe-only parts run in the guest."""

from __future__ import annotations

import os

import pytest

from pybpf import BPF, tracefs
from pybpf.features import Features

pytestmark = pytest.mark.kernel

# bpf() calls of this process only: other processes' calls would blur the exact counts
BPF_CALLS = r"""
BPF_ARRAY(calls, u64, 2);
static int count(int slot) {
    if (bpf_get_current_pid_tgid() >> 32 != PID)
        return 0;
    u64 *v = calls.lookup(&slot);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}
int on_entry(void *ctx) { return count(0); }
int on_return(void *ctx) { return count(1); }
"""


def _returns_seen(b) -> list[int]:
    """The return counter read by two lookups in a row: each lookup is one bpf() call,
    counted on its return, after the read."""
    t = b["calls"]
    k = t.Key(1)
    return [t[k].value, t[k].value]


def test_syscall_tracepoint_attach_makes_no_bpf_call():
    # bcc attaches with PERF_EVENT_IOC_SET_BPF: a sys_exit_bpf program attached last
    # has seen no bpf() return when the first lookup reads it (a bpf link's
    # BPF_LINK_CREATE would have returned into it: 1)
    with BPF(text=BPF_CALLS.replace("PID", str(os.getpid()))) as b:
        b.attach_tracepoint(tp=b"syscalls:sys_enter_bpf", fn_name=b"on_entry")
        b.attach_tracepoint(tp=b"syscalls:sys_exit_bpf", fn_name=b"on_return")
        assert _returns_seen(b) == [0, 1]


@pytest.mark.needs_hook("kprobe")
def test_kretprobe_on_bpf_attach_makes_no_bpf_call():
    # bcc's test_trace4 / test_trace_maxactive: a kretprobe on the bpf() syscall counts
    # exactly the calls after it; here with the real kprobe where the kernel has them,
    # else on the syscall tracepoints bcc's names are bound to
    with BPF(text=BPF_CALLS.replace("PID", str(os.getpid()))) as b:
        fn = b.get_syscall_fnname(b"bpf")
        b.attach_kprobe(event_re=b"^" + fn + b"$", fn_name=b"on_entry")
        b.attach_kretprobe(event=fn, fn_name=b"on_return", maxactive=16)
        assert _returns_seen(b) == [0, 1]
        entries = b["calls"][b["calls"].Key(0)].value
        assert entries >= 3          # the two lookups above and this one
        if Features().has_kprobes():
            # maxactive as bcc takes it: a tracefs kretprobe "r16:" (the PMU has no field)
            assert [ln for ln in _kprobe_events() if ln.startswith("r16:pybpf/")
                    and fn.decode() in ln]
    assert not [ln for ln in _kprobe_events() if ln.startswith("r16:pybpf/")]


def _kprobe_events() -> list[str]:
    try:
        with open(os.path.join(tracefs.root(), "kprobe_events")) as f:
            return f.read().splitlines()
    except FileNotFoundError:       # no CONFIG_KPROBES
        return []
