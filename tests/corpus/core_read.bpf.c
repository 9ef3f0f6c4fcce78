// SPDX-License-Identifier: GPL-2.0
/* CO-RE reads: BPF_CORE_READ chains (with an array index), BPF_CORE_READ_STR_INTO,
 * field exists/size/offset relocations. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct info {
	__u32 pid, ppid, ns_level;
	__u32 comm_size, has_loginuid;
	char first_letter;
	__u64 mm_off;
	char parent_comm[16];
};

struct info last;

SEC("tracepoint/sched/sched_process_exec")
int snapshot(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	last.pid = BPF_CORE_READ(t, pid);
	last.ppid = BPF_CORE_READ(t, real_parent, tgid);
	last.ns_level = BPF_CORE_READ(t, nsproxy, pid_ns_for_children, level);
	last.first_letter = BPF_CORE_READ(t, group_leader, comm[0]);
	BPF_CORE_READ_STR_INTO(&last.parent_comm, t, real_parent, comm);
	last.comm_size = bpf_core_field_size(t->comm);
	last.has_loginuid = bpf_core_field_exists(t->loginuid);
	last.mm_off = bpf_core_field_offset(struct task_struct, mm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
