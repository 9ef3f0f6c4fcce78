// SPDX-License-Identifier: GPL-2.0
/* One .text subprogram holding CO-RE relocations, a .kconfig read and a map reference, called
 * from programs of three types (each gets its own relocated copy); a callback shared by two. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

extern int CONFIG_HZ __kconfig __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} runtime SEC(".maps");

static __noinline __u64 task_weight(struct task_struct *t)
{
	__u32 pid = BPF_CORE_READ(t, tgid);
	__u64 *v = bpf_map_lookup_elem(&runtime, &pid);
	__u64 w = BPF_CORE_READ(t, se.load.weight);

	return (v ? *v : 0) + w * CONFIG_HZ;
}

static int add_twice(__u32 i, __u64 *acc)
{
	*acc += 2 * i;
	return 0;
}

__u64 total;

SEC("raw_tp/sched_switch")
int on_switch(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 acc = task_weight((struct task_struct *)ctx->args[2]);

	bpf_loop(3, add_twice, &acc, 0);
	total += acc;
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	__u64 acc = task_weight(p);

	bpf_loop(5, add_twice, &acc, 0);
	total += acc;
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	total += task_weight((struct task_struct *)bpf_get_current_task());
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
