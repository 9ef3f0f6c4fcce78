// SPDX-License-Identifier: GPL-2.0
/* runqlat: time tasks wait on a run queue, from wake-up (or preemption) to running,
 * as a histogram kept in the kernel; sched raw tracepoints (no kprobes). */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_taskhist.bpf.h"
#include "runqlat.h"

#define TASK_RUNNING 0

static __always_inline void enqueue(struct task_struct *t)
{
	start_interval(t, bpf_ktime_get_ns());
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
	__u64 delta;

	/* a wait of prev's still open though it has run since ended unseen */
	if (current_in_groups())
		close_unseen(prev, bpf_ktime_get_ns(), true);
	/* preempted while runnable: it waits on the queue from now */
	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);
	if (end_interval(next, bpf_ktime_get_ns(), &delta) && current_in_groups())
		record_interval(next, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
