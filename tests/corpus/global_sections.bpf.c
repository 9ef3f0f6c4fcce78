// SPDX-License-Identifier: GPL-2.0
/* Globals in every section kind: .rodata, .data, .bss, custom .data.* / .rodata.* and .rodata.str1.1. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 sample_rate = 10;
const volatile char tag[8] = "pybpf";
const __u16 weights[4] SEC(".rodata.tables") = { 1, 2, 4, 8 };
const volatile __u64 threshold SEC(".rodata.tunables") = 100;

__u64 total = 1;                       /* .data */
__u32 buckets[4];                      /* .bss */
__u64 slow SEC(".data.stats") = 3;
__u64 fast SEC(".data.stats");
char last_name[16] SEC(".data.names");

SEC("tracepoint/syscalls/sys_enter_read")
int sample_read(struct trace_event_raw_sys_enter *ctx)
{
	__u64 n = ctx->args[2];
	__u32 b = n & 3;

	if (bpf_get_prandom_u32() % sample_rate)
		return 0;
	total += weights[b];
	buckets[b]++;
	if (n > threshold)
		slow++;
	else
		fast++;
	bpf_get_current_comm(last_name, sizeof(last_name));
	if (tag[0])
		bpf_printk("sampled read of %lu bytes by %s", n, last_name);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
