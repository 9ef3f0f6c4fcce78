// SPDX-License-Identifier: GPL-2.0
/* bpf_spin_lock inside a map value (BTF-described value needed), updated from a tc program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct stats {
	struct bpf_spin_lock lock;
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} global_stats SEC(".maps");

SEC("tc")
int account_pkt(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct stats *s = bpf_map_lookup_elem(&global_stats, &zero);

	if (!s)
		return 0;
	bpf_spin_lock(&s->lock);
	s->packets++;
	s->bytes += skb->len;
	bpf_spin_unlock(&s->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
