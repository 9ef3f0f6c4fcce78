"""The bcc front end where kprobes exist: what bcc's own test suite found when it ran in
the kernel-matrix guest (bench/bench_bcc_testsuite.py --guest), each fix reproduced with
programs of our own and a known workload.  On this host (no kprobes) the same programs
run on the syscall-tracepoint stand-ins; the kprobe-only parts run in the guest."""

from __future__ import annotations

import os

import pytest

from tests.vm import hook_absent

from pybpf import BPF, errors, tracefs
from pybpf.bcc import rewrite
from pybpf.features import Features


# -- table methods given a compound literal (bcc's test_histogram test_struct) -----------

def test_compound_literal_arguments_stay_one_macro_argument():
    text = """typedef struct { void *map; u64 slot; } Key;
BPF_HISTOGRAM(h, Key, 64);
BPF_HASH(t, Key, u64);
int f(void *ctx) {
    u64 one = 1; void *m = 0;
    h.increment((Key){m, bpf_log2l(8)});
    h.increment((Key){.map = m, .slot = 2}, 3);
    t.update(&(Key){m, 1}, &one);
    t.update(&(Key){m, 1} /* , */, &one);
    h.increment((Key){m, sizeof("{,}")});
    h.increment(one);
    return 0;
}"""
    src = rewrite.rewrite(text).source
    assert "__bcc_M_increment(&h, ((Key){m, bpf_log2l(8)}))" in src
    assert "__bcc_M_increment(&h, ((Key){.map = m, .slot = 2}), 3)" in src
    assert "__bcc_M_update(&t, (&(Key){m, 1}), &one)" in src
    assert "__bcc_M_update(&t, (&(Key){m, 1}) /* , */, &one)" in src
    assert '__bcc_M_increment(&h, ((Key){m, sizeof("{,}")}))' in src
    assert "__bcc_M_increment(&h, one)" in src

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


def test_kretprobe_maxactive_is_written_as_tracefs_asks(tmp_path, monkeypatch):
    # the kprobe PMU has no maxactive: bcc writes "r<N>:" to kprobe_events
    from pybpf.links.perf_event import TracefsProbe
    monkeypatch.setattr(tracefs, "root", lambda: str(tmp_path))
    (tmp_path / "kprobe_events").write_text("")
    TracefsProbe("kprobe", "vfs_read", retprobe=True, hint="vfs_read", maxactive=128)
    TracefsProbe("kprobe", "vfs_read", retprobe=True, hint="vfs_read")
    TracefsProbe("kprobe", "vfs_read+0x4", retprobe=False, hint="vfs_read", maxactive=9)
    lines = (tmp_path / "kprobe_events").read_text().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["r128", "r", "p"]
    assert all(ln.startswith(("r128:pybpf/vfs_read_", "r:pybpf/vfs_read_",
                              "p:pybpf/vfs_read_")) for ln in lines)
    assert [ln.split()[-1] for ln in lines] == ["vfs_read", "vfs_read", "vfs_read+0x4"]


@pytest.mark.kernel
def test_syscall_tracepoint_attach_makes_no_bpf_call():
    # bcc attaches with PERF_EVENT_IOC_SET_BPF: a sys_exit_bpf program attached last
    # has seen no bpf() return when the first lookup reads it (a bpf link's
    # BPF_LINK_CREATE would have returned into it: 1)
    with BPF(text=BPF_CALLS.replace("PID", str(os.getpid()))) as b:
        b.attach_tracepoint(tp=b"syscalls:sys_enter_bpf", fn_name=b"on_entry")
        b.attach_tracepoint(tp=b"syscalls:sys_exit_bpf", fn_name=b"on_return")
        assert _returns_seen(b) == [0, 1]


# bcc's test_histogram test_struct: a histogram keyed by a compound literal that reads
# through the probed function's kernel pointer argument (bcc's own probes
# htab_map_delete_elem, which runs no BPF program when called from bpf(): the map
# syscalls disable BPF instrumentation, so its histogram stays empty)
OPENS = r"""
typedef struct { u64 dfd; u64 flags; } Key;
BPF_HISTOGRAM(opens, Key, 64);
int on_open(struct pt_regs *ctx, int dfd, const char __user *name, struct open_how *how) {
    if (bpf_get_current_pid_tgid() >> 32 != PID)
        return 0;
    opens.increment((Key){dfd, how->flags});
    return 0;
}
"""


@pytest.mark.kernel
@pytest.mark.needs_hook("kprobe")
def test_kprobes_as_bcc_suite_uses_them():
    # bcc's test_trace4 / test_trace_maxactive: a kretprobe on the bpf() syscall counts
    # exactly the calls after it; here with the real kprobe where the kernel has them,
    # else on the syscall tracepoints bcc's names are bound to
    with BPF(text=(BPF_CALLS + OPENS).replace("PID", str(os.getpid()))) as b:
        fn = b.get_syscall_fnname(b"bpf")
        b.attach_kprobe(event=fn, fn_name=b"on_entry")
        b.attach_kretprobe(event=fn, fn_name=b"on_return", maxactive=16)
        assert _returns_seen(b) == [0, 1]
        entries = b["calls"][b["calls"].Key(0)].value
        assert entries >= 3          # the two lookups above and this one
        if not Features().has_kprobes():
            with pytest.raises(errors.NotSupportedError, match="CONFIG_KPROBES"):
                b.attach_kprobe(event=b"do_sys_openat2", fn_name=b"on_open")
            hook_absent()
            return
        # maxactive as bcc takes it: a tracefs kretprobe "r16:" (the PMU has no field)
        assert [ln for ln in _kprobe_events() if ln.startswith("r16:pybpf/")
                and fn.decode() in ln]
        b.attach_kprobe(event=b"do_sys_openat2", fn_name=b"on_open")
        root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
        try:
            for _ in range(10):
                os.close(os.open("etc/hostname", os.O_RDONLY, dir_fd=root))
            got = {(k.dfd, k.flags): v.value for k, v in b["opens"].items()}
        finally:
            os.close(root)
    mine = {flags: n for (dfd, flags), n in got.items() if dfd == root}
    assert list(mine.values()) == [10]
    assert all(flags & os.O_CLOEXEC for flags in mine)      # Python opens with it
    assert not [ln for ln in _kprobe_events() if ln.startswith("r16:pybpf/")]


def _kprobe_events() -> list[str]:
    try:
        with open(os.path.join(tracefs.root(), "kprobe_events")) as f:
            return f.read().splitlines()
    except FileNotFoundError:       # no CONFIG_KPROBES
        return []
