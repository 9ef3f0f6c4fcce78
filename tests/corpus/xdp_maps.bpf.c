// SPDX-License-Identifier: GPL-2.0
/* XDP redirect targets: devmap_hash, cpumap, xskmap; packet parsing with bounds checks and adjust_head. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

SEC("xdp")
int steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(0x88B5)) {   /* local experimental: strip and hand to AF_XDP */
		if (bpf_xdp_adjust_head(ctx, sizeof(*eth)))
			return XDP_ABORTED;
		return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	}
	if (eth->h_proto == bpf_htons(0x0800))
		return bpf_redirect_map(&cpus, ctx->rx_queue_index % 4, XDP_PASS);
	return bpf_redirect_map(&ports, ctx->ingress_ifindex, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
