// SPDX-License-Identifier: GPL-2.0
/* LRU hash, LRU percpu hash (no common LRU) and an LPM trie keyed by IPv4 prefix, in cgroup_skb. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct v4_prefix {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__type(key, struct v4_prefix);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
} per_cpu_recent SEC(".maps");

SEC("cgroup_skb/ingress")
int filter_in(struct __sk_buff *skb)
{
	struct v4_prefix k = { .prefixlen = 32, .addr = skb->remote_ip4 };
	__u64 one = 1;

	bpf_map_update_elem(&recent, &k.addr, &one, BPF_ANY);
	bpf_map_update_elem(&per_cpu_recent, &k.addr, &one, BPF_ANY);
	if (skb->family != 2 /* AF_INET */)
		return 1;
	return bpf_map_lookup_elem(&allow, &k) ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
