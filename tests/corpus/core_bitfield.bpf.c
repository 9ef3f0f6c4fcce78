// SPDX-License-Identifier: GPL-2.0
/* CO-RE bitfields: BPF_CORE_READ_BITFIELD_PROBED (probe read) and BPF_CORE_READ_BITFIELD (direct, tp_btf);
 * the same macros on a plain signed int field (prio) exercise the signed/lshift/rshift relocations. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

__u64 reset_on_fork, in_execve, kthread_flag, sk_proto;
__s64 prio, child_prio;

SEC("raw_tp/sched_process_fork")
int probed(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	in_execve = BPF_CORE_READ_BITFIELD_PROBED(t, in_execve);
	prio = BPF_CORE_READ_BITFIELD_PROBED(t, prio);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(direct, struct task_struct *parent, struct task_struct *child)
{
	kthread_flag = BPF_CORE_READ_BITFIELD(child, sched_contributes_to_load);
	child_prio = BPF_CORE_READ_BITFIELD(child, static_prio);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state, const struct sock *sk, int old, int new)
{
	sk_proto = BPF_CORE_READ_BITFIELD(sk, sk_userlocks);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
