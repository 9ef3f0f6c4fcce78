// SPDX-License-Identifier: GPL-2.0
/* cpudist: how long tasks run on a CPU each time they are scheduled (or, with -O, how
 * long they are off it), as an in-kernel histogram; the sched_switch raw tracepoint. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "cpudist.h"

const volatile bool by_pid = false;
const volatile bool by_tid = false;
const volatile bool millis = false;
const volatile bool offcpu = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

/* The task leaving (on-CPU mode) or arriving (-O) closes its interval. */
static __always_inline void close_interval(struct task_struct *t, __u64 now)
{
	__u32 tid = BPF_CORE_READ(t, pid);
	__u64 *ts = bpf_map_lookup_elem(&start, &tid);
	__u64 delta;
	__u32 key;

	if (!ts)
		return;
	delta = now - *ts;
	bpf_map_delete_elem(&start, &tid);
	if (*ts > now)
		return;
	delta /= millis ? 1000000 : 1000;
	key = task_key(t, by_pid, by_tid);
	hist_add(&hists, &key, delta);
}

static __always_inline void open_interval(struct task_struct *t, __u64 now)
{
	__u32 tid = BPF_CORE_READ(t, pid);

	if (!tid || !task_wanted(t))
		return;
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
}

SEC("raw_tp/sched_switch")
int switch_(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	__u64 now = bpf_ktime_get_ns();

	/* the cgroup filters see the task going off the CPU (the current one) */
	if (offcpu) {
		if (current_in_groups())
			open_interval(prev, now);
		close_interval(next, now);
	} else {
		if (current_in_groups())
			close_interval(prev, now);
		open_interval(next, now);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
