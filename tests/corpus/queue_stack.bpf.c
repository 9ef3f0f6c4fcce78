// SPDX-License-Identifier: GPL-2.0
/* Queue and stack maps (value only, no key) with push/pop/peek from a tc classifier. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 64);
	__type(value, __u32);
} lens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 16);
	__uint(value_size, sizeof(__u64));
} marks SEC(".maps");

SEC("tc")
int record_len(struct __sk_buff *skb)
{
	__u32 len = skb->len, old;
	__u64 mark = skb->mark;

	if (bpf_map_push_elem(&lens, &len, BPF_EXIST))
		return 0; /* TC_ACT_OK */
	bpf_map_push_elem(&marks, &mark, 0);
	if (!bpf_map_peek_elem(&lens, &old) && old > 1500)
		bpf_map_pop_elem(&marks, &mark);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
