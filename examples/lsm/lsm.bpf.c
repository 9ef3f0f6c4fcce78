// SPDX-License-Identifier: GPL-2.0
/* lsm: a BPF LSM program that refuses the bpf() system call to one process. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define EPERM 1

char LICENSE[] SEC("license") = "GPL";

int target_tgid = 0;     /* the process to refuse (set after load) */
__u64 denied = 0;

SEC("lsm/bpf")
int BPF_PROG(lsm_bpf, int cmd)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	__sync_fetch_and_add(&denied, 1);
	return -EPERM;
}
