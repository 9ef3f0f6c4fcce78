// SPDX-License-Identifier: GPL-2.0
/* sockmap/sockhash with sockops, sk_msg and sk_skb stream parser/verdict programs; flow dissector. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u64);
} by_port SEC(".maps");

SEC("sockops")
int track(struct bpf_sock_ops *skops)
{
	__u64 key = ((__u64)skops->local_port << 32) | bpf_ntohl(skops->remote_port);

	if (skops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		bpf_sock_hash_update(skops, &by_port, &key, BPF_ANY);
	return 1;
}

SEC("sk_msg")
int redirect_msg(struct sk_msg_md *msg)
{
	__u64 key = ((__u64)msg->local_port << 32) | bpf_ntohl(msg->remote_port);

	return bpf_msg_redirect_hash(msg, &by_port, &key, BPF_F_INGRESS);
}

SEC("sk_skb/stream_parser")
int parser(struct __sk_buff *skb) { return skb->len; }

SEC("sk_skb/stream_verdict")
int verdict(struct __sk_buff *skb)
{
	return bpf_sk_redirect_map(skb, &socks, 0, 0);
}

SEC("flow_dissector")
int dissect(struct __sk_buff *skb) { return BPF_OK; }

char LICENSE[] SEC("license") = "GPL";
