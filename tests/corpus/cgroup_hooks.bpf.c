// SPDX-License-Identifier: GPL-2.0
/* cgroup hooks: device, sysctl (bpf_sysctl_get_name), sockopt, bind/connect/sendmsg, sock release/post_bind. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

__u64 denied, sysctl_reads;

SEC("cgroup/dev")
int dev_policy(struct bpf_cgroup_dev_ctx *ctx)
{
	__u32 type = ctx->access_type & 0xffff;

	if (type == 2 /* BPF_DEVCG_DEV_CHAR */ && ctx->major == 1 && ctx->minor == 3)
		return 1;   /* /dev/null */
	denied++;
	return 0;
}

SEC("cgroup/sysctl")
int sysctl_policy(struct bpf_sysctl *ctx)
{
	char name[32];

	if (ctx->write)
		return 0;
	if (bpf_sysctl_get_name(ctx, name, sizeof(name), 0) > 0)
		sysctl_reads++;
	return 1;
}

SEC("cgroup/getsockopt")
int getsockopt_hook(struct bpf_sockopt *ctx)
{
	return 1;
}

SEC("cgroup/setsockopt")
int setsockopt_hook(struct bpf_sockopt *ctx)
{
	if (ctx->level == 1 /* SOL_SOCKET */ && ctx->optname == 7 /* SO_SNDBUF */)
		ctx->optlen = ctx->optlen;
	return 1;
}

SEC("cgroup/bind4")
int bind_v4(struct bpf_sock_addr *ctx)
{
	return ctx->user_port == bpf_htons(1) ? 0 : 1;
}

SEC("cgroup/connect6")
int connect_v6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sendmsg4")
int sendmsg_v4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/recvmsg4")
int recvmsg_v4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getpeername4")
int peername_v4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/post_bind4")
int post_bind_v4(struct bpf_sock *sk) { return 1; }

SEC("cgroup/sock_release")
int release(struct bpf_sock *sk) { return 1; }

char LICENSE[] SEC("license") = "GPL";
