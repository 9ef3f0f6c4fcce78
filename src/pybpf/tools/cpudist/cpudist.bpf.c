// SPDX-License-Identifier: GPL-2.0
/* cpudist: how long tasks run on a CPU each time they are scheduled (or, with -O, how
 * long they are off it), as an in-kernel histogram; the sched_switch raw tracepoint. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#define TASKHIST_EXTENSION
#include "../_taskhist.bpf.h"
#include "cpudist.h"

const volatile bool offcpu = false;

#define TASK_DEAD 0x80  /* __state at an exiting task's last switch-out (4.14+) */

/* -O: the task arriving closes its off-CPU interval. */
static __always_inline void close_interval(struct task_struct *t, __u64 now)
{
	__u64 delta;

	if (end_interval(t, now, &delta))
		record_interval(t, delta);
}

/* t leaves the CPU at now: record the run it ends.  Its start entry stays between runs
 * (ts 0: none open; its run time and switch-ins at this switch-out), so a run whose
 * switch-in no program saw (_unseen.bpf.h) is still timed: by the run time since, when
 * exactly one switch-in came since.  The idle tasks (-I) have neither count: such a run
 * of theirs is counted lost.  A task's first switch-out seen (no entry) times nothing,
 * as it always did; its last (TASK_DEAD) drops the entry. */
static __always_inline void close_run(struct task_struct *t, __u64 now)
{
	__u32 tid = interval_key(t);
	struct interval_start *s = bpf_map_lookup_elem(&start, &tid);
	struct interval_start left = { .ts = 0, .ran = task_ran(t), .runs = task_runs(t) };
	bool dead = task_state(t) == TASK_DEAD;

	if (!s) {
		if (!tid || dead || !task_wanted(t))
			return;
		if (bpf_map_update_elem(&start, &tid, &left, BPF_ANY))
			count_drop();   /* full: a run begun unseen could not be timed */
		return;
	}
	if (s->ts) {
		if (now >= s->ts)
			record_interval(t, now - s->ts);
	} else if (tid < 0xffff0000 && left.runs && left.runs == s->runs + 1 &&
		   left.ran >= s->ran) {
		record_interval(t, left.ran - s->ran);
		count_unseen(UNSEEN_RUN_TIMED);
	} else {
		count_unseen(UNSEEN_RUN_LOST);
	}
	if (dead)
		bpf_map_delete_elem(&start, &tid);
	else
		*s = left;
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
			close_run(prev, now);
		start_interval(next, now);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
