// SPDX-License-Identifier: GPL-2.0
/* CO-RE type relocations: type_id local/kernel, type_exists, type_size, type_matches. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct pybpf_local_only {
	int x;
};

struct sk_buff___shape {
	unsigned int len;
	unsigned int data_len;
};

__u64 ids[2], exists[2], size_task, matches;

SEC("tracepoint/syscalls/sys_enter_getppid")
int type_relocs(void *ctx)
{
	ids[0] = bpf_core_type_id_local(struct task_struct);
	ids[1] = bpf_core_type_id_kernel(struct task_struct);
	exists[0] = bpf_core_type_exists(struct task_struct);
	exists[1] = bpf_core_type_exists(struct pybpf_local_only);
	size_task = bpf_core_type_size(struct task_struct);
	matches = bpf_core_type_matches(struct sk_buff___shape);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
