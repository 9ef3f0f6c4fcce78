#!/usr/bin/env python3
"""A bcc-style exec tracer that reads through kernel pointers (the parent's tgid from the
current task), run unchanged under bcc or pybpf.  SALT (argv[2]) goes into a C comment, so
every run with a new salt is a first compile of a new text.

usage: bcc_ppid_salted.py bcc|pybpf [SALT]    (prints "<ppid> <argv[1]>" per execve)
"""
import sys

if sys.argv[1] == "bcc":
    from bcc import BPF
else:
    from pybpf import BPF

salt = sys.argv[2] if len(sys.argv) > 2 else ""
b = BPF(text=r"""
/* SALT */
#include <linux/sched.h>
struct ev { u32 ppid; char arg[64]; };
BPF_PERF_OUTPUT(events);

TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
    struct ev e = {};
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    const char *a1 = NULL;
    e.ppid = t->real_parent->tgid;
    bpf_probe_read_user(&a1, sizeof(a1), &args->argv[1]);
    if (a1)
        bpf_probe_read_user_str(&e.arg, sizeof(e.arg), a1);
    events.perf_submit(args, &e, sizeof(e));
    return 0;
}
""".replace("SALT", salt))


def show(cpu, data, size):
    e = b["events"].event(data)
    print(e.ppid, e.arg.decode(errors="replace"), flush=True)


b["events"].open_perf_buffer(show)
try:
    while True:
        b.perf_buffer_poll()
except KeyboardInterrupt:
    pass
