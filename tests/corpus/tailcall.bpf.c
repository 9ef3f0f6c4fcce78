// SPDX-License-Identifier: GPL-2.0
/* Tail calls in socket filters: prog array with several initial slots, jumped to from a subprogram
 * and with bpf_tail_call_static (constant index, asm-emitted map load). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

int parse_ipv4(struct __sk_buff *skb);
int parse_ipv6(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, int (struct __sk_buff *));
} parsers SEC(".maps") = {
	.values = {
		[2] = (void *)&parse_ipv4,
		[5] = (void *)&parse_ipv6,
	},
};

static __noinline int dispatch(struct __sk_buff *skb, __u32 slot)
{
	bpf_tail_call(skb, &parsers, slot);
	return 0;
}

SEC("socket")
int entry(struct __sk_buff *skb)
{
	__u16 proto = skb->protocol;

	if (proto == bpf_htons(0x0800))
		return dispatch(skb, 2);
	if (proto == bpf_htons(0x86DD))
		return dispatch(skb, 5);
	if (skb->len > 64)
		bpf_tail_call_static(skb, &parsers, 2);
	return 0;
}

SEC("socket")
int parse_ipv4(struct __sk_buff *skb) { return skb->len; }

SEC("socket")
int parse_ipv6(struct __sk_buff *skb) { return skb->len > 40 ? skb->len : 0; }

char LICENSE[] SEC("license") = "GPL";
