// SPDX-License-Identifier: GPL-2.0
/* offcputime: time tasks spend blocked, summed per (task, user stack, kernel stack) in
 * the kernel.  The sched_switch raw tracepoint runs in the task leaving the CPU, so its
 * blocking stack is taken there and charged when the task runs again. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_stacks.bpf.h"
#include "../_unseen.bpf.h"
#include "offcputime.h"

const volatile bool user_threads_only = false;
const volatile bool kernel_threads_only = false;
const volatile __u64 min_block_us = 1;
const volatile __u64 max_block_us = (__u64)-1;
const volatile long targ_state = -1;

#define PF_KTHREAD 0x00200000

HASH_MAP(starts, __u32, struct start, 40960);
HASH_MAP(counts, struct stack_key, __u64, 40960);

static __always_inline bool wanted(struct task_struct *t)
{
	__u32 flags = BPF_CORE_READ(t, flags);

	if (user_threads_only && (flags & PF_KTHREAD))
		return false;
	if (kernel_threads_only && !(flags & PF_KTHREAD))
		return false;
	if (targ_state != -1 && task_state(t) != targ_state)
		return false;
	return task_wanted(t) && current_in_groups();
}

/* Charge delta_ns of blocking to key (within -m/-M). */
static __always_inline void charge(struct stack_key *key, __u64 delta_ns)
{
	__u64 delta = delta_ns / 1000;

	if (delta >= min_block_us && delta <= max_block_us)
		counter_add(&counts, key, delta);
}

SEC("raw_tp/sched_switch")
int switch_(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	__u64 now = bpf_ktime_get_ns(), delta;
	struct start *s, st = {};
	__u32 tid;

	tid = BPF_CORE_READ(prev, pid);
	/* a stretch of prev's still open ended at a switch no program saw
	 * (../_unseen.bpf.h): charged now, whether or not this one is wanted */
	s = bpf_map_lookup_elem(&starts, &tid);
	if (s) {
		if (unseen_stretch(prev, s->ts, s->ran, now, &delta))
			charge(&s->key, delta);
		bpf_map_delete_elem(&starts, &tid);
	}
	if (tid && wanted(prev)) {
		st.ts = now;
		st.ran = task_ran(prev);
		st.key.pid = BPF_CORE_READ(prev, tgid);
		st.key.tid = tid;
		BPF_CORE_READ_STR_INTO(&st.key.comm, prev, comm);
		take_stacks(ctx, &st.key);
		if (bpf_map_update_elem(&starts, &tid, &st, BPF_ANY))
			count_drop();
	}

	tid = BPF_CORE_READ(next, pid);
	s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	if (now >= s->ts)
		charge(&s->key, now - s->ts);
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
