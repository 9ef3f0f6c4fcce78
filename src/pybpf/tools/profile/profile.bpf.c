// SPDX-License-Identifier: GPL-2.0
/* profile: sample stacks at a timed interval (perf_event on the CPU clock), counting
 * each distinct (task, user stack, kernel stack) in the kernel. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "profile.h"

const volatile bool include_idle = false;
const volatile bool user_only = false;
const volatile bool kernel_only = false;
const volatile __s32 targ_cpu = -1;

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

SEC("perf_event")
int do_sample(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), *n, one = 1;
	struct stack_key k = {};

	if (!include_idle && (__u32)id == 0)
		return 0;
	if (targ_cpu >= 0 && bpf_get_smp_processor_id() != targ_cpu)
		return 0;
	if (!current_wanted())
		return 0;
	k.pid = id >> 32;
	k.tid = (__u32)id;
	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	k.user_stack_id = kernel_only ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	k.kernel_stack_id = user_only ? -1 : bpf_get_stackid(ctx, &stacks, 0);
	n = bpf_map_lookup_elem(&counts, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	if (bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&counts, &k);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			count_drop();
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
