// SPDX-License-Identifier: GPL-2.0
/* profile: sample stacks at a timed interval (perf_event on the CPU clock), counting
 * each distinct (task, user stack, kernel stack) in the kernel. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_stacks.bpf.h"
#include "profile.h"

const volatile bool include_idle = false;
const volatile __s32 targ_cpu = -1;
/* bcc's -p/-L take comma-separated lists: two ids or more are keys here (one is the
 * shared targ_tgid/targ_tid constant); ids_are_tids for -L */
const volatile bool filter_ids = false;
const volatile bool ids_are_tids = false;

HASH_MAP(counts, struct stack_key, __u64, 40960);
HASH_MAP(ids, __u32, __u8, 1024);

SEC("perf_event")
int do_sample(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct stack_key k = {};

	if (!include_idle && (__u32)id == 0)
		return 0;
	if (targ_cpu >= 0 && bpf_get_smp_processor_id() != targ_cpu)
		return 0;
	if (!current_wanted())
		return 0;
	if (filter_ids) {
		__u32 want = ids_are_tids ? (__u32)id : id >> 32;

		if (!bpf_map_lookup_elem(&ids, &want))
			return 0;
	}
	k.pid = id >> 32;
	k.tid = (__u32)id;
	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	take_stacks(ctx, &k);
	counter_add(&counts, &k, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
