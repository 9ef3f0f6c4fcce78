#!/usr/bin/env python3
"""Which context switches does no BPF program see?  Every sched_switch on every CPU, with
a per-CPU sequence number, for SECONDS (two busy loops and a 1 ms sleeper running): on
one CPU each switch's next task must be the following switch's prev task.  A break in
that chain is a switch the kernel ran no program for; the tasks it left are listed.

usage: unseen_switches.py SECONDS   -> prints JSON (switches, breaks, the tasks left)
"""
import collections
import ctypes as ct
import json
import subprocess
import sys
import time

from pybpf import BPF

secs = float(sys.argv[1])
kids = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
kids.append(subprocess.Popen([sys.executable, "-c",
                              "import time\nwhile True: time.sleep(0.001)"]))


class Ev(ct.Structure):
    _fields_ = [("seq", ct.c_uint64), ("cpu", ct.c_uint32), ("prev", ct.c_uint32),
                ("next", ct.c_uint32), ("pad", ct.c_uint32)]


evs = []
try:
    b = BPF(text="""
struct ev { u64 seq; u32 cpu; u32 prev; u32 next; u32 pad; };
BPF_PERCPU_ARRAY(seqs, u64, 1);
BPF_RINGBUF_OUTPUT(events, 4096);
RAW_TRACEPOINT_PROBE(sched_switch) {
    struct task_struct *prev = (struct task_struct *)ctx->args[1];
    struct task_struct *next = (struct task_struct *)ctx->args[2];
    u32 k = 0;
    u64 *s = seqs.lookup(&k);
    if (!s)
        return 0;
    struct ev e = {*s, bpf_get_smp_processor_id(), prev->pid, next->pid, 0};
    *s += 1;
    events.ringbuf_output(&e, sizeof(e), 0);
    return 0;
}
""")

    def take(ctx, data, size):
        e = ct.cast(data, ct.POINTER(Ev)).contents
        evs.append((e.cpu, e.seq, e.prev, e.next))

    b["events"].open_ring_buffer(take)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        b.ring_buffer_poll(timeout=50)
    b.ring_buffer_poll(timeout=50)
    b.cleanup()
finally:
    for p in kids:
        p.kill()
        p.wait()

bycpu = collections.defaultdict(list)
for e in evs:
    bycpu[e[0]].append(e)
breaks, gaps = collections.Counter(), 0
for cpu_evs in bycpu.values():
    cpu_evs.sort(key=lambda e: e[1])
    for a, c in zip(cpu_evs, cpu_evs[1:]):
        if c[1] != a[1] + 1:
            gaps += 1               # the ring was full: not the kernel's doing
        elif a[3] != c[2]:
            breaks[a[3]] += 1       # a[3] went on the CPU; its leaving was not seen


def who(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            st = dict(ln.split(":", 1) for ln in f if ":" in ln)
        return {"comm": st["Name"].strip(), "tgid": int(st["Tgid"])}
    except OSError:
        return {}


outs = collections.Counter(e[2] for e in evs)
ins = collections.Counter(e[3] for e in evs)
print(json.dumps({"seconds": secs, "switches": len(evs), "ring_gaps": gaps,
                  "breaks": sum(breaks.values()),
                  "left_unseen": [{"pid": p, "breaks": n, "switched_in": ins[p],
                                   "switched_out_seen": outs[p], **who(p)}
                                  for p, n in breaks.most_common()]}, indent=1))
