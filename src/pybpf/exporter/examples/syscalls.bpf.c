// SPDX-License-Identifier: GPL-2.0
/* System call latency by system call: raw_syscalls enter/exit, in microseconds. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf_exporter.h"

#define MAX_BUCKET 26    /* 2^26 us: 67 s */

struct lat_key {
	__u64 nr;
	__u64 bucket;
};

/* entry time per thread; LRU: a thread that never returns (exit) is evicted */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct lat_key);
	__type(value, __u64);
} syscall_latency SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *ts = bpf_map_lookup_elem(&start, &tid);
	struct lat_key key = {};
	__u64 us;

	if (!ts)
		return 0;
	us = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&start, &tid);
	if (ctx->id < 0)
		return 0;
	key.nr = ctx->id;
	observe_exp2(&syscall_latency, &key, us, MAX_BUCKET);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
