/* Stacks for the stack tools (profile, stackcount, offcputime, memleak, capable): the
 * stack trace map (ids that tools/_stacks.py resolves), the key the counting tools sum
 * under, and the -U/-K choice of which stacks to take. */
#ifndef PYBPF_TOOLS_STACKS_BPF_H
#define PYBPF_TOOLS_STACKS_BPF_H

#ifndef STACK_ENTRIES
#define STACK_ENTRIES 16384
#endif
#define PERF_MAX_STACK_DEPTH 127

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, STACK_ENTRIES);
	__type(key, __u32);
	__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* What profile, stackcount and offcputime count per distinct stack pair. */
struct stack_key {
	__u32 pid;
	__u32 tid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[TASK_COMM_LEN];
};

const volatile bool user_only = false;    /* -U: no kernel stacks */
const volatile bool kernel_only = false;  /* -K: no user stacks */

/* Fill k's stack ids from ctx (-1: not taken). */
static __always_inline void take_stacks(void *ctx, struct stack_key *k)
{
	k->user_stack_id = kernel_only ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	k->kernel_stack_id = user_only ? -1 : bpf_get_stackid(ctx, &stacks, 0);
}

#endif
