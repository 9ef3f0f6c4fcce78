// SPDX-License-Identifier: GPL-2.0
/* tcpretrans: TCP retransmits, from the tcp:tcp_retransmit_skb tracepoint (events, or
 * counts per connection kept in the kernel with -c). */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_sock.bpf.h"
#include "tcpretrans.h"

const volatile bool do_count = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct addrs);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* The tracepoint's record was trace_event_raw_tcp_event_sk_skb until its own layout
 * (with an err field) took the name trace_event_raw_tcp_retransmit_skb; the fields we
 * read kept their names.  Both flavors, and CO-RE picks the one this kernel has. */
#define RETRANS_FIELDS \
	int state; __u16 sport; __u16 dport; __u16 family; \
	__u8 saddr[4]; __u8 daddr[4]; __u8 saddr_v6[16]; __u8 daddr_v6[16];

struct trace_event_raw_tcp_retransmit_skb___new {
	RETRANS_FIELDS
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_event_sk_skb___old {
	RETRANS_FIELDS
} __attribute__((preserve_access_index));

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit(void *ctx)
{
	struct addrs a = {};
	struct event *e;
	__u64 *n, one = 1;
	int state;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___new)) {
		struct trace_event_raw_tcp_retransmit_skb___new *c = ctx;

		tp_addrs(c, &a);
		bpf_core_read(&state, sizeof(state), &c->state);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___old *c = ctx;

		tp_addrs(c, &a);
		bpf_core_read(&state, sizeof(state), &c->state);
	}
	if (!addrs_wanted(&a))
		return 0;
	if (do_count) {
		n = bpf_map_lookup_elem(&counts, &a);
		if (n)
			__sync_fetch_and_add(n, 1);
		else if (bpf_map_update_elem(&counts, &a, &one, BPF_NOEXIST))
			count_drop();
		return 0;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop();
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->state = state;
	e->a = a;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
