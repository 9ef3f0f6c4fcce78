// SPDX-License-Identifier: GPL-2.0
/* Run-queue latency: from a task's wake-up (or preemption) to when it runs, in
 * microseconds, from the sched tracepoints. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf_exporter.h"

#define MAX_BUCKET 26
#define TASK_RUNNING 0

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} enqueued SEC(".maps");

/* per-CPU: every context switch writes here; index = exp2 bucket, MAX_BUCKET+1 = sum */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_BUCKET + 2);
	__type(key, __u32);
	__type(value, __u64);
} runq_latency SEC(".maps");

static __always_inline void enqueue(__u32 pid)
{
	__u64 ts = bpf_ktime_get_ns();

	if (pid)
		bpf_map_update_elem(&enqueued, &pid, &ts, BPF_ANY);
}

static __always_inline void add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&runq_latency, &idx);

	if (v)
		*v += n;      /* per-CPU slot: no other writer */
}

SEC("tracepoint/sched/sched_wakeup")
int wakeup(struct trace_event_raw_sched_wakeup_template *ctx)
{
	enqueue(ctx->pid);
	return 0;
}

SEC("tracepoint/sched/sched_wakeup_new")
int wakeup_new(struct trace_event_raw_sched_wakeup_template *ctx)
{
	enqueue(ctx->pid);
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int switch_(struct trace_event_raw_sched_switch *ctx)
{
	__u32 next = ctx->next_pid;
	__u64 *ts, us, b;

	if (ctx->prev_state == TASK_RUNNING)      /* preempted: back on the run queue */
		enqueue(ctx->prev_pid);
	if (!next)
		return 0;
	ts = bpf_map_lookup_elem(&enqueued, &next);
	if (!ts)
		return 0;
	us = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&enqueued, &next);
	b = exp2_bucket(us);
	add(b > MAX_BUCKET ? MAX_BUCKET : b, 1);
	add(MAX_BUCKET + 1, us);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
