// SPDX-License-Identifier: GPL-2.0
/* cpudist: how long tasks run on a CPU each time they are scheduled (or, with -O, how
 * long they are off it), as an in-kernel histogram; the sched_switch raw tracepoint. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#define TASKHIST_EXTENSION
#include "../_taskhist.bpf.h"
#include "cpudist.h"

const volatile bool offcpu = false;

/* The task leaving (on-CPU mode) or arriving (-O) closes its interval. */
static __always_inline void close_interval(struct task_struct *t, __u64 now)
{
	__u64 delta;

	if (end_interval(t, now, &delta))
		record_interval(t, delta);
}

SEC("raw_tp/sched_switch")
int switch_(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	__u64 now = bpf_ktime_get_ns();

	/* the cgroup filters see the task going off the CPU (the current one) */
	if (offcpu) {
		/* an off-CPU stretch of prev's still open ended unseen */
		if (current_in_groups()) {
			close_unseen(prev, now, false);
			start_interval(prev, now);
		}
		close_interval(next, now);
	} else {
		if (current_in_groups())
			close_interval(prev, now);
		start_interval(next, now);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
