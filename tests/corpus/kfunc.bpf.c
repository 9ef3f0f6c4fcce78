// SPDX-License-Identifier: GPL-2.0
/* kfunc calls from tp_btf: acquire/release of a trusted task pointer and an RCU read section. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

__u64 parent_pid;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(hold_child, struct task_struct *parent, struct task_struct *child)
{
	struct task_struct *t = bpf_task_acquire(child);

	if (!t)
		return 0;
	bpf_rcu_read_lock();
	parent_pid = t->real_parent->pid;
	bpf_rcu_read_unlock();
	bpf_task_release(t);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
