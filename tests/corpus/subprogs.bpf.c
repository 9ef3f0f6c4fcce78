// SPDX-License-Identifier: GPL-2.0
/* bpf-to-bpf calls: static noinline chains, global (separately verified) functions, shared by two programs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

static __noinline __u64 sum_of_squares(__u64 a, __u64 b)
{
	return square(a) + square(b);
}

__noinline int account(__u32 slot, __u64 amount)
{
	__u64 *v = bpf_map_lookup_elem(&totals, &slot);

	if (!v)
		return -1;
	*v += amount;
	return 0;
}

__noinline int clamp_len(struct __sk_buff *skb)
{
	if (!skb)
		return 0;
	return skb->len > 1500 ? 1500 : skb->len;
}

SEC("socket")
int small_packets(struct __sk_buff *skb)
{
	int len = clamp_len(skb);

	account(0, sum_of_squares(len, 1));
	return len < 128 ? len : 0;
}

SEC("socket")
int big_packets(struct __sk_buff *skb)
{
	int len = clamp_len(skb);

	account(1, square(len));
	return len >= 128 ? len : 0;
}

char LICENSE[] SEC("license") = "GPL";
