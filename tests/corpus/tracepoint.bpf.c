// SPDX-License-Identifier: GPL-2.0
/* Tracepoint program with ring buffer, globals of all kinds, static and global subprograms. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 uid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const volatile __u32 target_pid = 0;
const volatile bool verbose = true;
__u64 hits = 7;
int ready = -3;
__u64 drops;
__u32 seen[4];

static __noinline __u32 mix(__u32 a)
{
	return a * 2654435761u;
}

__noinline int global_helper(int x)
{
	return mix(x) + 1;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_execve(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (target_pid && pid != target_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops, 1);
		return 0;
	}
	e->pid = mix(pid);
	e->uid = global_helper(ready);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (verbose)
		bpf_printk("exec %d", pid);
	seen[pid & 3] = 1;
	__sync_fetch_and_add(&hits, 1);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	return global_helper(1) + mix(2);
}

char LICENSE[] SEC("license") = "GPL";
