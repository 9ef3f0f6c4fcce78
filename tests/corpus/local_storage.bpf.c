// SPDX-License-Identifier: GPL-2.0
/* Local storage maps: sk storage from cgroup sock hooks, cgroup storage (legacy), task and cgrp storage. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sk_created SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, struct bpf_cgroup_storage_key);
	__type(value, __u64);
} egress_bytes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} forks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} cg_forks SEC(".maps");

SEC("cgroup/sock_create")
int stamp_sock(struct bpf_sock *ctx)
{
	__u64 *v = bpf_sk_storage_get(&sk_created, ctx, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (v)
		*v = bpf_ktime_get_ns();
	return 1;
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	__u64 *bytes = bpf_get_local_storage(&egress_bytes, 0);

	__sync_fetch_and_add(bytes, skb->len);
	return 1;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(count_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 *v = bpf_task_storage_get(&forks, parent, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u64 *c;

	if (v)
		(*v)++;
	c = bpf_cgrp_storage_get(&cg_forks, parent->cgroups->dfl_cgrp, 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (c)
		(*c)++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
