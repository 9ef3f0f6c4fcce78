// SPDX-License-Identifier: GPL-2.0
/* raw_tp, writable raw_tp and tp_btf with CO-RE reads of task_struct. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} start SEC(".maps");

SEC("raw_tp/sched_switch")
int on_switch(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	__u32 pid = BPF_CORE_READ(next, pid);
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	__u32 ppid = BPF_CORE_READ(p, real_parent, tgid);

	bpf_map_delete_elem(&start, &ppid);
	return 0;
}

SEC("raw_tp.w/bpf_test_finish")
int on_writable(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
