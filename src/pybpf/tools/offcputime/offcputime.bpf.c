// SPDX-License-Identifier: GPL-2.0
/* offcputime: time tasks spend blocked, summed per (task, user stack, kernel stack) in
 * the kernel.  The sched_switch raw tracepoint runs in the task leaving the CPU, so its
 * blocking stack is taken there and charged when the task runs again. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "offcputime.h"

const volatile bool user_threads_only = false;
const volatile bool kernel_threads_only = false;
const volatile bool user_only = false;
const volatile bool kernel_only = false;
const volatile __u64 min_block_us = 1;
const volatile __u64 max_block_us = (__u64)-1;
const volatile long targ_state = -1;

#define PF_KTHREAD 0x00200000

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct stack_key);
	__type(value, __u64);
} counts SEC(".maps");

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

SEC("raw_tp/sched_switch")
int switch_(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	__u64 now = bpf_ktime_get_ns(), delta, *n;
	struct start *s, st = {};
	__u32 tid;

	tid = BPF_CORE_READ(prev, pid);
	if (tid && wanted(prev)) {
		st.ts = now;
		st.key.pid = BPF_CORE_READ(prev, tgid);
		st.key.tid = tid;
		BPF_CORE_READ_STR_INTO(&st.key.comm, prev, comm);
		st.key.user_stack_id = kernel_only ? -1 :
			bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
		st.key.kernel_stack_id = user_only ? -1 : bpf_get_stackid(ctx, &stacks, 0);
		if (bpf_map_update_elem(&starts, &tid, &st, BPF_ANY))
			count_drop();
	}

	tid = BPF_CORE_READ(next, pid);
	s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	delta = (now - s->ts) / 1000;
	if (delta >= min_block_us && delta <= max_block_us) {
		n = bpf_map_lookup_elem(&counts, &s->key);
		if (n) {
			__sync_fetch_and_add(n, delta);
		} else if (bpf_map_update_elem(&counts, &s->key, &delta, BPF_NOEXIST)) {
			n = bpf_map_lookup_elem(&counts, &s->key);
			if (n)
				__sync_fetch_and_add(n, delta);
			else
				count_drop();
		}
	}
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
