// SPDX-License-Identifier: GPL-2.0
/* Hash maps: typed struct key/value, the key_size/value_size form, NO_PREALLOC, numa_node. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct flow_key {
	__u32 pid;
	__u32 cpu;
};

struct flow_val {
	__u64 count;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} typed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 24);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(numa_node, 0);
} sized SEC(".maps");

SEC("tracepoint/sched/sched_switch")
int count_switch(void *ctx)
{
	struct flow_key k = { .pid = bpf_get_current_pid_tgid(), .cpu = bpf_get_smp_processor_id() };
	struct flow_val *v = bpf_map_lookup_elem(&typed, &k);
	__u8 blob[24] = {};

	if (v) {
		v->count++;
		v->last_ns = bpf_ktime_get_ns();
	} else {
		struct flow_val init = { .count = 1 };

		bpf_map_update_elem(&typed, &k, &init, BPF_NOEXIST);
	}
	bpf_map_update_elem(&sized, &k.pid, blob, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
