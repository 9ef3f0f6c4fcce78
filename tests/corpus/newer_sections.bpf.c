// SPDX-License-Identifier: GPL-2.0
/* Section names newer than libbpf 1.1: netfilter (1.2) and the AF_UNIX cgroup sock_addr hooks (1.4). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

__u64 nf_seen;

SEC("netfilter")
int nf_hook(struct bpf_nf_ctx *ctx)
{
	nf_seen++;
	return 1; /* NF_ACCEPT */
}

SEC("cgroup/connect_unix")
int unix_connect(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sendmsg_unix")
int unix_sendmsg(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getpeername_unix")
int unix_peername(struct bpf_sock_addr *ctx) { return 1; }

char LICENSE[] SEC("license") = "GPL";
