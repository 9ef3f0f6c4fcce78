// SPDX-License-Identifier: GPL-2.0
/* bindsnoop: bind() on IPv4/IPv6 sockets with the address asked for, the socket's
 * options and the result, from the bind syscall tracepoints. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_sock.bpf.h"
#include "bindsnoop.h"

const volatile bool failed_only = false;
const volatile __u32 targ_uid = (__u32)-1;   /* -u */
const volatile bool count_only = false;      /* --count: count, send no events */
const volatile bool count_failed = false;    /* --count -E: failed binds count too */

HASH_MAP(start, __u32, struct pending, 10240);
HASH_MAP(counts, struct count_key, __u64, 10240);
RINGBUF_MAP(events, 256 * 1024);

SEC("tracepoint/syscalls/sys_enter_bind")
int enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending p = {.fd = ctx->args[0], .addr = (const void *)ctx->args[1]};

	if (targ_uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	if (!current_wanted())
		return 0;
	bpf_map_update_elem(&start, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct pending *p = bpf_map_lookup_elem(&start, &tid);
	struct sockaddr_in6 sa = {};
	struct socket *sock;
	struct sock *sk;
	struct event *e;
	long ret = ctx->ret;

	if (!p)
		return 0;
	if (failed_only && ret == 0)
		goto out;
	if (!read_inet_sockaddr(&sa, p->addr))
		goto out;
	if (!port_in(targ_lports, n_lports, __builtin_bswap16(sa.sin6_port)))
		goto out;
	if (count_only) {
		struct count_key k = {};

		if (ret != 0 && !count_failed)
			goto out;
		k.family = sa.sin6_family;
		k.port = __builtin_bswap16(sa.sin6_port);
		if (sa.sin6_family == AF_INET)
			__builtin_memcpy(k.addr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
		else
			__builtin_memcpy(k.addr, &sa.sin6_addr, 16);
		counter_add(&counts, &k, 1);
		goto out;
	}
	sock = socket_of_fd(p->fd);
	if (!sock)
		goto out;
	sk = BPF_CORE_READ(sock, sk);
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		goto out;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->family = sa.sin6_family;
	e->port = __builtin_bswap16(sa.sin6_port);
	e->type = BPF_CORE_READ(sock, type);
	e->reuseaddr = BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse);
	e->reuseport = BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport);
	e->bound_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	if (sa.sin6_family == AF_INET)
		__builtin_memcpy(e->addr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
	else
		__builtin_memcpy(e->addr, &sa.sin6_addr, 16);
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
