// SPDX-License-Identifier: GPL-2.0
/* tc: look at IPv4 packets entering an interface; count UDP ones to one port. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_OK 0
#define ETH_P_IP 0x0800

char LICENSE[] SEC("license") = "GPL";

const volatile __u16 port = 0;        /* UDP destination port to count */
__u64 packets, bytes;
__u32 last_tot_len, last_ttl;

SEC("tc")
int tc_ingress(struct __sk_buff *ctx)
{
	void *data_end = (void *)(__u64)ctx->data_end;
	void *data = (void *)(__u64)ctx->data;
	struct ethhdr *l2 = data;
	struct iphdr *l3;
	struct udphdr *l4;

	if (ctx->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	l3 = (struct iphdr *)(l2 + 1);
	if ((void *)(l3 + 1) > data_end)
		return TC_ACT_OK;
	bpf_printk("Got IP packet: tot_len: %d, ttl: %d", bpf_ntohs(l3->tot_len), l3->ttl);
	if (l3->protocol != IPPROTO_UDP || l3->ihl != 5)
		return TC_ACT_OK;
	l4 = (struct udphdr *)(l3 + 1);
	if ((void *)(l4 + 1) > data_end || bpf_ntohs(l4->dest) != port)
		return TC_ACT_OK;
	packets++;
	bytes += ctx->len;
	last_tot_len = bpf_ntohs(l3->tot_len);
	last_ttl = l3->ttl;
	return TC_ACT_OK;
}
