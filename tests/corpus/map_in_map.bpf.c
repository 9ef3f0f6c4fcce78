// SPDX-License-Identifier: GPL-2.0
/* Hash-of-maps with a named inner template and initial slots; inner maps of different sizes (INNER_MAP). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct per_tenant {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} tenant_a SEC(".maps"), tenant_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 16);
	__type(key, __u32);
	__array(values, struct per_tenant);
} tenants SEC(".maps") = {
	.values = { [0] = &tenant_a, [1] = &tenant_b },
};

struct small_ring {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct small_ring);
} rings SEC(".maps");

SEC("cgroup_skb/ingress")
int per_tenant_count(struct __sk_buff *skb)
{
	__u32 tenant = skb->mark & 0xf, key = skb->ifindex, zero = 0;
	void *inner = bpf_map_lookup_elem(&tenants, &tenant);
	__u64 one = 1, *v;

	if (!inner)
		return 1;
	v = bpf_map_lookup_elem(inner, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(inner, &key, &one, BPF_NOEXIST);
	inner = bpf_map_lookup_elem(&rings, &zero);
	if (inner)
		bpf_map_lookup_elem(inner, &zero);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
