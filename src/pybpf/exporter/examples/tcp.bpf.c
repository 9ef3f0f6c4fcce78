// SPDX-License-Identifier: GPL-2.0
/* TCP retransmits by destination address and state, and TCP state changes. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pybpf_exporter.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* Only state changes of sockets with this local or remote port (0: every socket). */
const volatile __u16 target_port = 0;

struct retrans_key {
	__u8 daddr[16];       /* IPv4 as ::ffff:a.b.c.d */
	__u32 state;
};

struct state_key {
	__u32 oldstate;
	__u32 newstate;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct retrans_key);
	__type(value, __u64);
} tcp_retransmits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct state_key);
	__type(value, __u64);
} tcp_state_changes SEC(".maps");

/* The tracepoint's record is trace_event_raw_tcp_retransmit_skb since the event got a
 * layout of its own (Linux 6.15, with an err field); before, it shared
 * trace_event_raw_tcp_event_sk_skb with tcp_send_reset.  The fields read here kept their
 * names: a flavour of each holding only them, and CO-RE picks the one the kernel has. */
#define RETRANS_FIELDS int state; __u16 family; __u8 daddr[4]; __u8 daddr_v6[16];

struct trace_event_raw_tcp_retransmit_skb___own {
	RETRANS_FIELDS
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_event_sk_skb___shared {
	RETRANS_FIELDS
} __attribute__((preserve_access_index));

/* The key of one retransmit record (either flavour).  The addresses are copied by a
 * helper: the verifier refuses loads through a moved context pointer, which is what
 * clang makes of array copies out of the context.  Older records (5.10's) have no family;
 * their daddr_v6 holds an IPv4 address mapped (::ffff:a.b.c.d), as the key wants it. */
#define RETRANS_KEY(c, key) do {						\
	(key).state = (c)->state;						\
	if (bpf_core_field_exists((c)->family) && (c)->family == AF_INET) {	\
		(key).daddr[10] = 0xff;						\
		(key).daddr[11] = 0xff;						\
		bpf_probe_read_kernel(&(key).daddr[12], 4, (c)->daddr);		\
	} else {								\
		bpf_probe_read_kernel((key).daddr, 16, (c)->daddr_v6);		\
	}									\
} while (0)

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit(void *ctx)
{
	struct retrans_key key = {};

	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___own))
		RETRANS_KEY((struct trace_event_raw_tcp_retransmit_skb___own *)ctx, key);
	else
		RETRANS_KEY((struct trace_event_raw_tcp_event_sk_skb___shared *)ctx, key);
	counter_add(&tcp_retransmits, &key, 1);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct state_key key = { .oldstate = ctx->oldstate, .newstate = ctx->newstate };

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (target_port && ctx->sport != target_port && ctx->dport != target_port)
		return 0;
	counter_add(&tcp_state_changes, &key, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
