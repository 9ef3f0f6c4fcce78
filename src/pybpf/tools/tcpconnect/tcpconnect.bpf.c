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
const volatile __u16 targ_ports[8] = {};
const volatile int n_ports = 0;

struct pending {
	int fd;
	__u16 family;
	__u16 dport;
	__u8 daddr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct pending);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sockaddr_in6 sa = {};
	struct pending p = {};
	int i;

	if (targ_uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	if (!current_wanted())
		return 0;
	if (bpf_probe_read_user(&sa, sizeof(sa), (void *)ctx->args[1]))
		bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), (void *)ctx->args[1]);
	if (sa.sin6_family != AF_INET && sa.sin6_family != AF_INET6)
		return 0;
	if (targ_family && sa.sin6_family != targ_family)
		return 0;
	p.fd = ctx->args[0];
	p.family = sa.sin6_family;
	p.dport = __builtin_bswap16(sa.sin6_port);
	if (n_ports) {
		bool hit = false;
		for (i = 0; i < 8; i++)
			if (i < n_ports && targ_ports[i] == p.dport)
				hit = true;
		if (!hit)
			return 0;
	}
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
	struct event *e;
	long ret = ctx->ret;

	if (!p)
		return 0;
	/* a SYN went out: connected, in progress, or answered by a reset or silence */
	if (ret != 0 && ret != -EINPROGRESS && ret != -ECONNREFUSED && ret != -ETIMEDOUT)
		goto out;
	sock = socket_of_fd(p->fd);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop();
		goto out;
	}
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

char LICENSE[] SEC("license") = "GPL";
