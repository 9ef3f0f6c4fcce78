// SPDX-License-Identifier: GPL-2.0
/* vfsstat: counts of file reads, writes, fsyncs, opens and creates, from the syscalls
 * entering the VFS (raw_syscalls:sys_enter and a per-syscall kind table), kept per CPU
 * in the kernel.  bcc counts vfs_* function calls with kprobes; this kernel has none. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "vfsstat.h"

#define O_CREAT 0100

BPF_MAP(kinds, BPF_MAP_TYPE_ARRAY, __u32, __u8, MAX_SYSCALLS);
PERCPU_ARRAY_MAP(counts, __u64, S_MAXSTAT);

static __always_inline void inc(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&counts, &stat);

	if (n)
		*n += 1;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	/* context fields read once, up front (a CO-RE offset kept in a register would make
	 * the verifier refuse the read) */
	__u32 nr = ctx->id;
	__u64 arg1 = ctx->args[1], arg2 = ctx->args[2];
	__u8 *kind;
	__u64 flags = 0;
	struct open_how how = {};

	if (nr >= MAX_SYSCALLS)
		return 0;
	kind = bpf_map_lookup_elem(&kinds, &nr);
	if (!kind || !*kind)
		return 0;
	if (!current_wanted())
		return 0;
	switch (*kind) {
	case K_READ:
		inc(S_READ);
		break;
	case K_WRITE:
		inc(S_WRITE);
		break;
	case K_FSYNC:
		inc(S_FSYNC);
		break;
	case K_CREAT:
		inc(S_CREATE);
		break;
	case K_OPEN:
	case K_OPENAT:
	case K_OPENAT2:
		if (*kind == K_OPEN)
			flags = arg1;
		else if (*kind == K_OPENAT)
			flags = arg2;
		else if (!bpf_probe_read_user(&how, sizeof(how), (void *)arg2))
			flags = how.flags;
		inc(flags & O_CREAT ? S_CREATE : S_OPEN);
		break;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
