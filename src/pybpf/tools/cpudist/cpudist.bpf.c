// SPDX-License-Identifier: GPL-2.0
/* cpudist: how long tasks run on a CPU each time they are scheduled (or, with -O, how
 * long they are off it), as an in-kernel histogram; the sched_switch raw tracepoint. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#define TASKHIST_EXTENSION
#include "../_taskhist.bpf.h"
#include "../_unseen.bpf.h"
#include "cpudist.h"

const volatile bool offcpu = false;

/* The task leaving (on-CPU mode) or arriving (-O) closes its interval. */
static __always_inline void close_interval(struct task_struct *t, __u64 now)
{
	__u64 delta;

	if (end_interval(t, now, &delta))
		record_interval(t, delta);
}

/* -O: t leaving the CPU starts an off-CPU stretch.  One still open came to an end at
 * a switch no program saw (../_unseen.bpf.h): counted now, timed by t's run time. */
static __always_inline void start_offcpu(struct task_struct *t, __u64 now)
{
	__u32 tid = interval_key(t);
	struct interval_start *open;
	__u64 delta;

	if (!tid || !task_wanted(t))
		return;
	open = bpf_map_lookup_elem(&start, &tid);
	/* (not the idle tasks of -I: they have no run time of their own) */
	if (open && BPF_CORE_READ(t, pid) &&
	    unseen_stretch(t, open->ts, open->ran, now, &delta))
		record_interval(t, delta);
	start_interval(t, now, task_ran(t));
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
			start_offcpu(prev, now);
		close_interval(next, now);
	} else {
		if (current_in_groups())
			close_interval(prev, now);
		start_interval(next, now, 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
