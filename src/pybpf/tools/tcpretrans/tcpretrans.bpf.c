// SPDX-License-Identifier: GPL-2.0
/* tcpretrans: TCP retransmits, from the tcp:tcp_retransmit_skb tracepoint (events, or
 * counts per connection kept in the kernel with -c); with -l also tail loss probes, which
 * have no tracepoint: a kprobe on tcp_send_loss_probe, as bcc's tcpretrans -l. */
#include "vmlinux.h"
#include <bpf/bpf_tracing.h>
#include "../_common.bpf.h"
#include "../_sock.bpf.h"
#include "tcpretrans.h"

const volatile bool do_count = false;

HASH_MAP(counts, struct addrs, __u64, 10240);
RINGBUF_MAP(events, 256 * 1024);

/* The tracepoint's record was trace_event_raw_tcp_event_sk_skb until its own layout
 * (with an err field) took the name trace_event_raw_tcp_retransmit_skb; the fields we
 * read kept their names.  Both flavors, and CO-RE picks the one this kernel has. */
#define RETRANS_FIELDS \
	const void *skbaddr; const void *skaddr; int state; __u16 sport; __u16 dport; __u16 family; \
	__u8 saddr[4]; __u8 daddr[4]; __u8 saddr_v6[16]; __u8 daddr_v6[16];

struct trace_event_raw_tcp_retransmit_skb___new {
	RETRANS_FIELDS
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_event_sk_skb___old {
	RETRANS_FIELDS
} __attribute__((preserve_access_index));

static __always_inline int emit(struct addrs *a, int state, struct sk_buff *skb, __u32 type)
{
	struct event *e;

	if (!addrs_wanted(a))
		return 0;
	if (do_count) {
		counter_add(&counts, a, 1);
		return 0;
	}
	e = stamped_event(&events, e);
	if (!e)
		return 0;
	e->state = state;
	e->a = *a;
	/* TCP_SKB_CB(skb)->seq: the control block TCP keeps in skb->cb */
	e->seq = skb ? BPF_CORE_READ((struct tcp_skb_cb *)&skb->cb[0], seq) : 0;
	e->type = type;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit(void *ctx)
{
	struct addrs a = {};
	struct sk_buff *skb;
	int state;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___new)) {
		struct trace_event_raw_tcp_retransmit_skb___new *c = ctx;

		tp_addrs(c, &a);
		bpf_core_read(&state, sizeof(state), &c->state);
		bpf_core_read(&skb, sizeof(skb), &c->skbaddr);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___old *c = ctx;

		if (bpf_core_field_exists(c->family)) {
			tp_addrs(c, &a);
		} else {
			/* older records (5.10's) have no family: the socket's own */
			const struct sock *sk = NULL;

			bpf_core_read(&sk, sizeof(sk), &c->skaddr);
			a.family = BPF_CORE_READ(sk, __sk_common.skc_family);
			tp_ports_addrs(c, &a);
		}
		bpf_core_read(&state, sizeof(state), &c->state);
		bpf_core_read(&skb, sizeof(skb), &c->skbaddr);
	}
	return emit(&a, state, skb, RETRANSMIT);
}

/* A tail loss probe: the last segment sent again before the retransmit timer fires.
 * Only loaded with -l (the front asks for it where the kernel has kprobes). */
SEC("kprobe/tcp_send_loss_probe")
int BPF_KPROBE(tlp, struct sock *sk)
{
	struct addrs a = {};

	sk_addrs(sk, &a);
	return emit(&a, BPF_CORE_READ(sk, __sk_common.skc_state), NULL, TAIL_LOSS_PROBE);
}
char LICENSE[] SEC("license") = "GPL";
