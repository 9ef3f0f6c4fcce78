// SPDX-License-Identifier: GPL-2.0
/* tcpconnect: active TCP connections, from the connect() syscall tracepoints: the
 * destination is the caller's sockaddr, the source read from the socket at exit. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_sock.bpf.h"
#include "tcpconnect.h"

#define SOCK_STREAM 1
#define EINPROGRESS 115
#define ECONNREFUSED 111
#define ETIMEDOUT 110

const volatile __u32 targ_uid = (__u32)-1;

struct pending {
	int fd;
	__u16 family;
	__u16 dport;
	__u8 daddr[16];
};

HASH_MAP(start, __u32, struct pending, 10240);
RINGBUF_MAP(events, 256 * 1024);

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sockaddr_in6 sa = {};
	struct pending p = {};

	if (targ_uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	if (!current_wanted())
		return 0;
	if (!read_inet_sockaddr(&sa, (void *)ctx->args[1]))
		return 0;
	if (targ_family && sa.sin6_family != targ_family)
		return 0;
	p.fd = ctx->args[0];
	p.family = sa.sin6_family;
	p.dport = __builtin_bswap16(sa.sin6_port);
	if (!port_in(targ_dports, n_dports, p.dport))
		return 0;
	if (p.family == AF_INET)
		__builtin_memcpy(p.daddr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
	else
		__builtin_memcpy(p.daddr, &sa.sin6_addr, 16);
	bpf_map_update_elem(&start, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct pending *p = bpf_map_lookup_elem(&start, &tid);
	struct socket *sock;
	struct conn_event *e;
	long ret = ctx->ret;

	if (!p)
		return 0;
	/* a SYN went out: connected, in progress, or answered by a reset or silence */
	if (ret != 0 && ret != -EINPROGRESS && ret != -ECONNREFUSED && ret != -ETIMEDOUT)
		goto out;
	sock = socket_of_fd(p->fd);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		goto out;
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		goto out;
	__builtin_memset(&e->a, 0, sizeof(e->a));
	sk_addrs(BPF_CORE_READ(sock, sk), &e->a);
	/* the destination as asked (a refused socket has forgotten it) */
	e->a.family = p->family;
	e->a.dport = p->dport;
	__builtin_memcpy(e->a.daddr, p->daddr, 16);
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/* -d: the UDP payload of every datagram from port 53 delivered to a local socket (a
 * cgroup_skb program on the cgroup v2 root; bcc hooks udp_recvmsg with kprobes, which
 * this kernel lacks).  The datagram always passes. */
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_UDP 17

SEC("cgroup_skb/ingress")
int dns_answer(struct __sk_buff *skb)
{
	struct dns_event *e;
	__u8 vihl, proto;
	__u16 sport;
	__u32 off, len;

	if (skb->protocol == __builtin_bswap16(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, 0, &vihl, 1) || bpf_skb_load_bytes(skb, 9, &proto, 1))
			return 1;
		off = (vihl & 0xf) * 4;
	} else if (skb->protocol == __builtin_bswap16(ETH_P_IPV6)) {
		/* extension headers before UDP are not followed */
		if (bpf_skb_load_bytes(skb, 6, &proto, 1))
			return 1;
		off = 40;
	} else {
		return 1;
	}
	if (proto != IPPROTO_UDP || bpf_skb_load_bytes(skb, off, &sport, 2) ||
	    sport != __builtin_bswap16(53))
		return 1;
	off += 8;
	if (skb->len <= off)
		return 1;
	len = skb->len - off;
	if (len > DNS_MAX)
		len = DNS_MAX;
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		return 1;
	/* 1..512 as the verifier can see it (len is already in that range) */
	len = ((len - 1) & (DNS_MAX - 1)) + 1;
	e->len = len;
	e->pad = 0;
	if (bpf_skb_load_bytes(skb, off, e->pkt, len)) {
		bpf_ringbuf_discard(e, 0);
		return 1;
	}
	bpf_ringbuf_submit(e, 0);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
