// SPDX-License-Identifier: GPL-2.0
/* User ring buffer drained with a callback, plus ringbuf_output and ringbuf_query on a kernel ringbuf. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} commands SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} replies SEC(".maps");

__u64 handled, pending;

static long handle_cmd(struct bpf_dynptr *dynptr, void *ctx)
{
	__u32 cmd = 0;

	if (bpf_dynptr_read(&cmd, sizeof(cmd), dynptr, 0, 0))
		return 1;
	handled += cmd;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int drain(void *ctx)
{
	__u64 n = bpf_user_ringbuf_drain(&commands, handle_cmd, 0, 0);

	bpf_ringbuf_output(&replies, &n, sizeof(n), BPF_RB_FORCE_WAKEUP);
	pending = bpf_ringbuf_query(&replies, BPF_RB_AVAIL_DATA);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
