// SPDX-License-Identifier: GPL-2.0
/* LSM hooks (plain and sleepable) with task storage. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} opens SEC(".maps");

SEC("lsm/file_open")
int BPF_PROG(check_open, struct file *file)
{
	__u64 *v = bpf_task_storage_get(&opens, bpf_get_current_task_btf(), 0,
					BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (v)
		(*v)++;
	return 0;
}

SEC("lsm.s/bprm_committed_creds")
int BPF_PROG(committed, struct linux_binprm *bprm) { return 0; }

SEC("lsm_cgroup/socket_bind")
int BPF_PROG(cg_bind, struct socket *sock) { return 1; }

char LICENSE[] SEC("license") = "GPL";
