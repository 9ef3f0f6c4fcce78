// SPDX-License-Identifier: GPL-2.0
/* stackcount: count the stacks that reach user functions (uprobes), USDT sites or
 * tracepoints (kprobes where the kernel has them), in the kernel. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "stackcount.h"

const volatile bool per_process = false;
const volatile bool user_only = false;
const volatile bool kernel_only = false;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct stack_key);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int count(void *ctx)
{
	struct stack_key k = {};
	__u64 *n, one = 1;

	if (!current_wanted())
		return 0;
	if (per_process) {
		k.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(&k.comm, sizeof(k.comm));
	}
	k.user_stack_id = kernel_only ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	k.kernel_stack_id = user_only ? -1 : bpf_get_stackid(ctx, &stacks, 0);
	/* without -P, user stacks still need the process to be named: keep its pid */
	if (!per_process && k.user_stack_id >= 0)
		k.tid = bpf_get_current_pid_tgid() >> 32;
	n = bpf_map_lookup_elem(&counts, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	else if (bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST))
		count_drop();
	return 0;
}

SEC("uprobe")
int count_uprobe(struct pt_regs *ctx)
{
	return count(ctx);
}

SEC("tracepoint")
int count_tracepoint(void *ctx)
{
	return count(ctx);
}

SEC("kprobe")
int count_kprobe(struct pt_regs *ctx)
{
	return count(ctx);
}

char LICENSE[] SEC("license") = "GPL";
