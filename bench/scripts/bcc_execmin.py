#!/usr/bin/env python3
"""A minimal bcc-style exec tracer, run unchanged under bcc or pybpf.

usage: bcc_execmin.py bcc|pybpf [SALT]    (prints argv[1] of every execve)

A SALT goes into a C comment, so every run with a new salt is a first compile of a new
text (bench/bench_bcc_cold.py --script execmin); without one the text is always the same.
"""
import sys

if sys.argv[1] == "bcc":
    from bcc import BPF
else:
    from pybpf import BPF

TEXT = r"""
struct ev { char arg[64]; };
BPF_PERF_OUTPUT(events);

TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
    struct ev e = {};
    const char *a1 = NULL;
    bpf_probe_read_user(&a1, sizeof(a1), &args->argv[1]);
    if (a1)
        bpf_probe_read_user_str(&e.arg, sizeof(e.arg), a1);
    events.perf_submit(args, &e, sizeof(e));
    return 0;
}
"""
salt = sys.argv[2] if len(sys.argv) > 2 else ""
b = BPF(text=f"/* {salt} */\n{TEXT}" if salt else TEXT)


def show(cpu, data, size):
    print(b["events"].event(data).arg.decode(errors="replace"), flush=True)


b["events"].open_perf_buffer(show)
try:
    while True:
        b.perf_buffer_poll()
except KeyboardInterrupt:
    pass
