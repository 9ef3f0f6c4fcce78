// SPDX-License-Identifier: GPL-2.0
/* runqlat: time tasks wait on a run queue, from wake-up (or preemption) to running,
 * as a histogram kept in the kernel; sched raw tracepoints (no kprobes). */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "runqlat.h"

#define TASK_RUNNING 0

const volatile bool by_pid = false;
const volatile bool by_tid = false;
const volatile bool millis = false;

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

static __always_inline void enqueue(struct task_struct *t)
{
	__u32 tid = BPF_CORE_READ(t, pid);
	__u64 ts;

	if (!tid || !task_wanted(t))
		return;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
}

SEC("raw_tp/sched_wakeup")
int wakeup(struct bpf_raw_tracepoint_args *ctx)
{
	enqueue((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int wakeup_new(struct bpf_raw_tracepoint_args *ctx)
{
	enqueue((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_switch")
int switch_(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	__u32 tid, key;
	__u64 *ts, delta;

	/* preempted while runnable: it waits on the queue from now */
	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);
	tid = BPF_CORE_READ(next, pid);
	ts = bpf_map_lookup_elem(&start, &tid);
	if (!ts)
		return 0;
	delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&start, &tid);
	if (!current_in_groups())
		return 0;
	delta /= millis ? 1000000 : 1000;
	key = task_key(next, by_pid, by_tid);
	hist_add(&hists, &key, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
