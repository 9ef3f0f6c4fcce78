// SPDX-License-Identifier: GPL-2.0
/* profile: sample what runs on each CPU, kernel and user stacks included. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "profile.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 dropped = 0;

SEC("perf_event")
int profile(void *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;
	struct stacktrace_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = pid;
	e->cpu_id = bpf_get_smp_processor_id();
	if (bpf_get_current_comm(e->comm, sizeof(e->comm)))
		e->comm[0] = 0;
	e->kstack_sz = bpf_get_stack(ctx, e->kstack, sizeof(e->kstack), 0);
	e->ustack_sz = bpf_get_stack(ctx, e->ustack, sizeof(e->ustack), BPF_F_USER_STACK);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
