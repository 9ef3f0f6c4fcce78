// SPDX-License-Identifier: GPL-2.0
/* tcplife: one event per closed TCP session with its lifespan and bytes, from the
 * sock:inet_sock_set_state tracepoint (the process is the one that opened or closed it). */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_sock.bpf.h"
#include "tcplife.h"

#define IPPROTO_TCP 6
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9

HASH_MAP(birth, __u64, __u64, 10240);
HASH_MAP(whoami, __u64, struct ident, 10240);
RINGBUF_MAP(events, 256 * 1024);

/* The two counters read, as a local CO-RE flavour (matched to struct tcp_sock by
 * name): the whole struct would put ~26 KB of kernel types into the object's BTF, which
 * the kernel checks again at every start. */
struct tcp_sock___life {
	__u64 bytes_received;
	__u64 bytes_acked;
} __attribute__((preserve_access_index));

SEC("tracepoint/sock/inet_sock_set_state")
int set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr, now = bpf_ktime_get_ns(), *start;
	struct tcp_sock___life *tp = (void *)ctx->skaddr;
	struct ident *who, me = {};
	struct addrs a = {};
	struct event *e;
	/* each context field read once: the compiler may otherwise keep a CO-RE offset in
	 * a register, and the verifier refuses context reads at a variable offset */
	int newstate = ctx->newstate;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	tp_addrs(ctx, &a);
	if (!addrs_wanted(&a))
		return 0;
	/* the session's birth: its first state before closing down (the PID is not known
	 * yet on the passive side, so every early state is stamped) */
	if (newstate < TCP_FIN_WAIT1)
		bpf_map_update_elem(&birth, &sk, &now, BPF_NOEXIST);
	/* the opener (SYN_SENT) or closer (LAST_ACK) runs in process context */
	if (newstate == TCP_SYN_SENT || newstate == TCP_LAST_ACK) {
		if (!current_wanted())
			goto forget;
		me.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(&me.comm, sizeof(me.comm));
		bpf_map_update_elem(&whoami, &sk, &me, BPF_ANY);
	}
	if (newstate != TCP_CLOSE)
		return 0;
	start = bpf_map_lookup_elem(&birth, &sk);
	if (!start)
		goto forget;
	who = bpf_map_lookup_elem(&whoami, &sk);
	if (!who && (targ_tgid || targ_tid))
		goto forget;
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		goto forget;
	e->ts_ns = now;
	e->span_us = (now - *start) / 1000;
	e->rx_b = BPF_CORE_READ(tp, bytes_received);
	e->tx_b = BPF_CORE_READ(tp, bytes_acked);
	e->pad = 0;
	e->a = a;
	if (who) {
		e->pid = who->pid;
		__builtin_memcpy(e->comm, who->comm, sizeof(e->comm));
	} else {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
	}
	bpf_ringbuf_submit(e, 0);
forget:
	if (newstate == TCP_CLOSE) {
		bpf_map_delete_elem(&birth, &sk);
		bpf_map_delete_elem(&whoami, &sk);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
