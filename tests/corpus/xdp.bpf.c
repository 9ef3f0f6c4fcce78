// SPDX-License-Identifier: GPL-2.0
/* XDP with map-in-map (inner def and initial slots), devmap and prog array slots. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [3] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, int);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 16);
		__type(key, __u32);
		__type(value, __u32);
	});
} outer_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} tx SEC(".maps");

int xdp_tail(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&xdp_tail },
};

SEC("xdp")
int xdp_main(struct xdp_md *ctx)
{
	__u32 k = 0;
	void *m = bpf_map_lookup_elem(&outer, &k);

	if (m)
		bpf_map_lookup_elem(m, &k);
	bpf_tail_call(ctx, &jumps, 1);
	return bpf_redirect_map(&tx, 0, XDP_PASS);
}

SEC("xdp")
int xdp_tail(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp.frags")
int xdp_frags_prog(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp/devmap")
int xdp_dev(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp/cpumap")
int xdp_cpu(struct xdp_md *ctx) { return XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
