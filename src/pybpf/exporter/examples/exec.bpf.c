// SPDX-License-Identifier: GPL-2.0
/* exec counts by command: one count per successful exec(), keyed by the new comm. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf_exporter.h"

struct exec_key {
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct exec_key);
	__type(value, __u64);
} exec_counts SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int count_exec(void *ctx)
{
	struct exec_key key = {};

	bpf_get_current_comm(key.comm, sizeof(key.comm));
	counter_add(&exec_counts, &key, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
