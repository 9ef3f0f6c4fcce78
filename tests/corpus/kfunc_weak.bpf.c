// SPDX-License-Identifier: GPL-2.0
/* A __weak kfunc missing from the kernel, tested by address before the call: the
 * address becomes a plain 0 and the call is poisoned (dead code the verifier drops). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern int pybpf_missing_kfunc(int x) __ksym __weak;

__u64 called;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(weak_kfunc, struct task_struct *parent, struct task_struct *child)
{
	struct task_struct *t = bpf_task_acquire(child);

	if (t)
		bpf_task_release(t);
	if (pybpf_missing_kfunc)
		called = pybpf_missing_kfunc(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
