// SPDX-License-Identifier: GPL-2.0
/* tcpstates: every TCP state change with the time spent in the old state, from the
 * sock:inet_sock_set_state tracepoint. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_sock.bpf.h"
#include "tcpstates.h"

#define IPPROTO_TCP 6
#define TCP_CLOSE 7

HASH_MAP(last, __u64, __u64, 10240);
RINGBUF_MAP(events, 512 * 1024);

SEC("tracepoint/sock/inet_sock_set_state")
int set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr, now = bpf_ktime_get_ns(), *ts;
	struct event *e;
	struct addrs a = {};
	/* each context field read once (see tcplife.bpf.c) */
	int oldstate = ctx->oldstate, newstate = ctx->newstate;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	tp_addrs(ctx, &a);
	if (!addrs_wanted(&a))
		return 0;
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		goto out;
	ts = bpf_map_lookup_elem(&last, &sk);
	e->delta_us = ts ? (now - *ts) / 1000 : 0;
	e->skaddr = sk;
	e->ts_ns = now;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->pad = 0;
	e->a = a;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
out:
	if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&last, &sk);
	else
		bpf_map_update_elem(&last, &sk, &now, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
