// SPDX-License-Identifier: GPL-2.0
/* Bloom filter map with map_extra (number of hash functions), queried from a raw tracepoint. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 1000);
	__type(value, __u32);
	__uint(map_extra, 3);
} seen_pids SEC(".maps");

__u64 maybe_seen, new_pids;

SEC("raw_tp/sched_process_exec")
int check_pid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (bpf_map_peek_elem(&seen_pids, &pid) == 0) {
		maybe_seen++;
	} else {
		new_pids++;
		bpf_map_push_elem(&seen_pids, &pid, BPF_ANY);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
