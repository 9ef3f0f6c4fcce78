// SPDX-License-Identifier: GPL-2.0
/* sockfilter: a socket filter reporting every IPv4 packet's addresses and ports. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sockfilter.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

__u64 dropped = 0;

static bool is_fragment(struct __sk_buff *skb, __u32 nhoff)
{
	__u16 frag_off;

	bpf_skb_load_bytes(skb, nhoff + offsetof(struct iphdr, frag_off), &frag_off, 2);
	return bpf_ntohs(frag_off) & (IP_MF | IP_OFFSET);
}

SEC("socket")
int socket_handler(struct __sk_buff *skb)
{
	struct so_event *e;
	__u8 verlen;
	__u16 proto;
	__u32 nhoff = ETH_HLEN;

	bpf_skb_load_bytes(skb, 12, &proto, 2);
	if (bpf_ntohs(proto) != ETH_P_IP || is_fragment(skb, nhoff))
		return 0;
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->ip_proto = 0;
	bpf_skb_load_bytes(skb, nhoff + offsetof(struct iphdr, protocol), &e->ip_proto, 1);
	bpf_skb_load_bytes(skb, nhoff + offsetof(struct iphdr, saddr), &e->src_addr, 4);
	bpf_skb_load_bytes(skb, nhoff + offsetof(struct iphdr, daddr), &e->dst_addr, 4);
	bpf_skb_load_bytes(skb, nhoff, &verlen, 1);
	e->ports = 0;
	if (e->ip_proto == IPPROTO_TCP || e->ip_proto == IPPROTO_UDP)
		bpf_skb_load_bytes(skb, nhoff + ((verlen & 0xF) << 2), &e->ports, 4);
	e->pkt_type = skb->pkt_type;
	e->ifindex = skb->ifindex;
	bpf_ringbuf_submit(e, 0);
	/* 0: the socket itself keeps nothing (user space reads the ring buffer only) */
	return 0;
}
