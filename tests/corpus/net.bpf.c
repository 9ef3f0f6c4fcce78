// SPDX-License-Identifier: GPL-2.0
/* tc, tcx, socket filter, cgroup_skb, cgroup sock_addr and friends. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pkts SEC(".maps");

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&pkts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tc")
int tc_prog(struct __sk_buff *skb) { count(0); return 0; }

SEC("tcx/ingress")
int tcx_in(struct __sk_buff *skb) { count(1); return 0; }

SEC("tcx/egress")
int tcx_out(struct __sk_buff *skb) { return 0; }

SEC("classifier")
int cls(struct __sk_buff *skb) { return 0; }

SEC("socket")
int sock_filter(struct __sk_buff *skb) { return skb->len; }

SEC("cgroup_skb/ingress")
int cg_in(struct __sk_buff *skb) { return 1; }

SEC("cgroup_skb/egress")
int cg_out(struct __sk_buff *skb) { return 1; }

SEC("cgroup/connect4")
int cg_connect4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sock_create")
int cg_sock_create(struct bpf_sock *ctx) { return 1; }

SEC("cgroup/sysctl")
int cg_sysctl(struct bpf_sysctl *ctx) { return 1; }

SEC("sk_lookup")
int lookup(struct bpf_sk_lookup *ctx) { return SK_PASS; }

char LICENSE[] SEC("license") = "GPL";
