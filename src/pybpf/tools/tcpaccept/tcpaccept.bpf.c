// SPDX-License-Identifier: GPL-2.0
/* tcpaccept: passive TCP connections, from the accept()/accept4() syscall tracepoints:
 * the new socket is found through the returned file descriptor. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_sock.bpf.h"
#include "tcpaccept.h"

#define SOCK_STREAM 1


RINGBUF_MAP(events, 256 * 1024);

static __always_inline int accepted(long fd)
{
	struct socket *sock;
	struct conn_event *e;
	struct addrs a = {};

	if (fd < 0 || !current_wanted())
		return 0;
	sock = socket_of_fd(fd);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	sk_addrs(BPF_CORE_READ(sock, sk), &a);
	if (a.family != AF_INET && a.family != AF_INET6)
		return 0;
	if (targ_family && a.family != targ_family)
		return 0;
	if (!port_in(targ_lports, n_lports, a.lport))
		return 0;
	e = stamped_event(&events, e);
	if (!e)
		return 0;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->a = a;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
