// SPDX-License-Identifier: GPL-2.0
/* A __hidden global function: its BTF linkage is made static, so the verifier checks it
 * in its caller's context (and drops the branch dead there), as libbpf does. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

__hidden __noinline int scale(int x, int shift)
{
	return shift > 0 && shift < 8 ? x << shift : x;
}

SEC("socket")
int big_packets(struct __sk_buff *skb)
{
	return scale(skb->len, 2);
}

char LICENSE[] SEC("license") = "GPL";
