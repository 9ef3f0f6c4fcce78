// SPDX-License-Identifier: GPL-2.0
/* capable: security capability checks with their verdict.  The capability:cap_capable
 * tracepoint (Linux 6.14+) where the kernel has it; else a kprobe and kretprobe on
 * cap_capable(), which also tell whether the check is audited.  Python loads one pair. */
#include "vmlinux.h"
#include <bpf/bpf_tracing.h>
#include "../_common.bpf.h"
#define STACK_ENTRIES 4096
#include "../_stacks.bpf.h"
#include "capable.h"

#define CAP_OPT_NOAUDIT 0x2
#define CAP_OPT_INSETID 0x4

const volatile bool verbose = false;      /* non-audited checks too (kprobe path) */
const volatile bool want_kstack = false;
const volatile bool want_ustack = false;
/* The tool itself, left out while it reads stacks: naming a user frame reads
 * /proc/PID/map_files, a CAP_CHECKPOINT_RESTORE check, whose event names more frames. */
const volatile __u32 self_tgid = 0;

static __always_inline bool wanted(void)
{
	if (self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return false;
	return current_wanted();
}

HASH_MAP(start, __u32, struct event, 10240);
RINGBUF_MAP(events, 256 * 1024);

static __always_inline void fill(struct event *e, void *ctx, int cap)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->cap = cap;
	e->kstack = want_kstack ? bpf_get_stackid(ctx, &stacks, 0) : -1;
	e->ustack = want_ustack ? bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK) : -1;
	e->pad = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
}

/* The tracepoint's record (6.14+), declared here: the object must also compile against
 * an older kernel's vmlinux.h, which lacks it (there the kprobe programs are loaded). */
struct trace_event_raw_cap_capable___tp {
	int cap;
	int ret;
} __attribute__((preserve_access_index));

SEC("tracepoint/capability/cap_capable")
int tp_capable(void *ctx)
{
	struct trace_event_raw_cap_capable___tp *c = ctx;
	struct event *e;
	int cap, ret;

	if (!wanted())
		return 0;
	bpf_core_read(&cap, sizeof(cap), &c->cap);
	bpf_core_read(&ret, sizeof(ret), &c->ret);
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		return 0;
	fill(e, ctx, cap);
	e->ts_ns = bpf_ktime_get_ns();
	e->ret = ret;
	e->audit = -1;
	e->insetid = -1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kprobe/cap_capable")
int BPF_KPROBE(kp_capable, void *cred, void *ns, int cap, unsigned int opts)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event e = {};

	if (!wanted())
		return 0;
	e.audit = !(opts & CAP_OPT_NOAUDIT);
	if (!e.audit && !verbose)
		return 0;
	e.insetid = !!(opts & CAP_OPT_INSETID);
	fill(&e, ctx, cap);
	if (bpf_map_update_elem(&start, &tid, &e, BPF_ANY))
		count_drop();
	return 0;
}

SEC("kretprobe/cap_capable")
int BPF_KRETPROBE(kret_capable, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&start, &tid);

	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->ret = ret;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
		count_drop();
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
