// SPDX-License-Identifier: GPL-2.0
/* uprobe.multi sections auto-attached as libbpf attaches them, and a program attached by
 * hand with a cookie per place (tests/test_links_uprobe_multi.py); TARGET is
 * tests/data/tool_many.c built. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 entries, returns, slept, sessions, hits[16];

SEC("uprobe.multi/" TARGET ":many_f0?")
int on_entry(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&entries, 1);
	return 0;
}

SEC("uretprobe.multi/" TARGET ":many_f1?")
int on_return(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&returns, 1);
	return 0;
}

SEC("uprobe.multi.s/" TARGET ":many_f15")
int on_sleepable(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&slept, 1);
	return 0;
}

/* entry and return: twice a call (6.13+; loaded alone by its test) */
SEC("uprobe.session/" TARGET ":many_f01")
int on_session(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&sessions, 1);
	return 0;
}

SEC("uprobe.multi")
int by_cookie(struct pt_regs *ctx)
{
	__u64 c = bpf_get_attach_cookie(ctx);

	if (c < 16)
		__sync_fetch_and_add(&hits[c], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
