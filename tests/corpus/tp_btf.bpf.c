// SPDX-License-Identifier: GPL-2.0
/* tp_btf programs: typed BTF arguments read directly (no probe_read) and the BTF task pointer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 forks, last_child_pid;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	forks++;
	last_child_pid = child->pid;
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *cur = bpf_get_current_task_btf();

	return cur->tgid == p->tgid ? 0 : 1;
}

char LICENSE[] SEC("license") = "GPL";
