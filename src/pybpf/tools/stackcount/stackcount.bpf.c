// SPDX-License-Identifier: GPL-2.0
/* stackcount: count the stacks that reach user functions (uprobes), USDT sites or
 * tracepoints (kprobes where the kernel has them), in the kernel. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_stacks.bpf.h"
#include "stackcount.h"

const volatile bool per_process = false;
const volatile __s32 targ_cpu = -1;	/* -c/--cpu: events on this CPU only */

HASH_MAP(counts, struct stack_key, __u64, 40960);

static __always_inline int count(void *ctx)
{
	struct stack_key k = {};

	if (targ_cpu >= 0 && bpf_get_smp_processor_id() != targ_cpu)
		return 0;
	if (!current_wanted())
		return 0;
	if (per_process) {
		k.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(&k.comm, sizeof(k.comm));
	}
	take_stacks(ctx, &k);
	/* without -P, user stacks still need the process to be named: keep its pid */
	if (!per_process && k.user_stack_id >= 0)
		k.tid = bpf_get_current_pid_tgid() >> 32;
	counter_add(&counts, &k, 1);
	return 0;
}

PROBE_PROGRAMS(count)

char LICENSE[] SEC("license") = "GPL";
