// SPDX-License-Identifier: GPL-2.0
/* CO-RE ___flavor structs: a field missing in this kernel is guarded by field_exists (poisoned, dead). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___old {
	long state;              /* renamed __state in 5.14 */
	int pid;
} __attribute__((preserve_access_index));

struct task_struct___new {
	unsigned int __state;
} __attribute__((preserve_access_index));

__u64 state, pid;

SEC("raw_tp/sched_switch")
int task_state(void *ctx)
{
	void *t = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(((struct task_struct___new *)t)->__state))
		state = BPF_CORE_READ((struct task_struct___new *)t, __state);
	else
		state = BPF_CORE_READ((struct task_struct___old *)t, state);
	pid = BPF_CORE_READ((struct task_struct___old *)t, pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
