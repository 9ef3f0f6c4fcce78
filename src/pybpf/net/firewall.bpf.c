// SPDX-License-Identifier: GPL-2.0
/* pybpf firewall: IPv4/IPv6 filter by prefix (LPM trie), protocol and port (destination
 * or source; single ports, or ranges through port classes),
 * with allow / deny / per-source rate limit (GCRA token bucket in an LRU map).
 *
 * The rule trie is reached through a one-slot array of maps: the control plane builds a
 * whole new trie and swaps it in with one map update, so every packet sees either the
 * old rule set or the new one, never a mix (the swap waits for running programs, RCU). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "firewall.h"

#ifndef FW_CAPACITY
#define FW_CAPACITY 131072
#endif

struct fw_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FW_CAPACITY);
	__type(key, struct fw_key);
	__type(value, struct fw_rule);
};

/* The rule set the program starts with (empty: everything passes until rules come).
 * Declared as a map of its own also so that clang emits the full key and value types. */
struct fw_trie rules0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct fw_trie);
} rulesets SEC(".maps") = {
	.values = { [0] = &rules0 },
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW_CAPACITY);
	__type(key, __u32);
	__type(value, struct fw_stats);
} rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW_ACT_MAX);
	__type(key, __u32);
	__type(value, struct fw_counter);
} action_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_conf);
} conf SEC(".maps");

/* LRU: under a flood of spoofed sources old buckets are evicted, and an evicted
 * legitimate source simply starts again with a full bucket. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fw_bucket_key);
	__type(value, struct fw_bucket);
} buckets SEC(".maps");

#define ETH_P_IP_BE bpf_htons(0x0800)
#define ETH_P_IPV6_BE bpf_htons(0x86DD)
#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)

struct fw_vlan { __be16 tci; __be16 proto; };
struct fw_ports { __be16 sport; __be16 dport; };
struct fw_v6opt { __u8 nexthdr; __u8 hdrlen; };
struct fw_v6frag { __u8 nexthdr; __u8 res; __be16 off; __be32 id; };

struct fw_pkt {
	__u8 family;
	__u8 proto;
	__u8 has_port;
	__be16 dport;
	__be16 sport;
	__u8 src[16];
	__u8 dst[16];
};

enum { PARSE_IP = 0, PARSE_NONIP = 1, PARSE_BAD = 2 };

static __always_inline int parse(void *data, void *end, struct fw_pkt *p)
{
	struct ethhdr *eth = data;
	void *l4;
	__u16 h_proto;
	int frag = 0;

	if ((void *)(eth + 1) > end)
		return PARSE_BAD;
	h_proto = eth->h_proto;
	data = eth + 1;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (h_proto == ETH_P_8021Q_BE || h_proto == ETH_P_8021AD_BE) {
			struct fw_vlan *v = data;
			if ((void *)(v + 1) > end)
				return PARSE_BAD;
			h_proto = v->proto;
			data = v + 1;
		}
	}
	if (h_proto == ETH_P_IP_BE) {
		struct iphdr *ip = data;
		__u32 ihl;
		if ((void *)(ip + 1) > end)
			return PARSE_BAD;
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			return PARSE_BAD;
		p->family = FW_V4;
		p->proto = ip->protocol;
		__builtin_memcpy(p->src, &ip->saddr, 4);
		__builtin_memcpy(p->dst, &ip->daddr, 4);
		frag = (ip->frag_off & bpf_htons(0x1fff)) != 0;   /* not the first fragment */
		l4 = data + ihl;
	} else if (h_proto == ETH_P_IPV6_BE) {
		struct ipv6hdr *ip6 = data;
		__u8 nh;
		if ((void *)(ip6 + 1) > end)
			return PARSE_BAD;
		p->family = FW_V6;
		__builtin_memcpy(p->src, &ip6->saddr, 16);
		__builtin_memcpy(p->dst, &ip6->daddr, 16);
		nh = ip6->nexthdr;
		l4 = ip6 + 1;
		/* Skip extension headers (hop-by-hop, routing, destination options, fragment)
		 * to find the transport protocol; at most 4 of them. */
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (nh == 0 || nh == 43 || nh == 60) {
				struct fw_v6opt *o = l4;
				if ((void *)(o + 1) > end)
					return PARSE_BAD;
				nh = o->nexthdr;
				l4 += (o->hdrlen + 1) * 8;
			} else if (nh == 44) {
				struct fw_v6frag *f = l4;
				if ((void *)(f + 1) > end)
					return PARSE_BAD;
				nh = f->nexthdr;
				frag = (f->off & bpf_htons(0xfff8)) != 0;
				l4 = f + 1;
			}
		}
		p->proto = nh;
	} else {
		return PARSE_NONIP;
	}
	p->has_port = 0;
	if (!frag && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP ||
		      p->proto == IPPROTO_SCTP)) {
		struct fw_ports *ports = l4;
		if ((void *)(ports + 1) > end)
			return PARSE_BAD;
		p->dport = ports->dport;
		p->sport = ports->sport;
		p->has_port = 1;
	}
	return PARSE_IP;
}

static __always_inline void count_action(__u32 action, __u64 bytes)
{
	struct fw_counter *c = bpf_map_lookup_elem(&action_stats, &action);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* One class lookup: keep the hit if it outranks the best so far.  Rank: the address
 * prefix length, then port > protocol > neither, then source before destination. */
static __always_inline void probe(void *trie, struct fw_key *k, __u8 proto, __u8 pkind,
				  __be16 port, struct fw_rule **best, __u32 *best_rank)
{
	struct fw_rule *r;
	__u32 rank;

	k->proto = proto;
	k->pkind = pkind;
	k->port = port;
	r = bpf_map_lookup_elem(trie, k);
	if (!r)
		return;
	rank = ((__u32)r->plen << 5 | (__u32)(r->spec & 7) << 2 | (__u32)(r->spec >> 3) << 1 |
		(k->dim == FW_SRC)) + 1;
	if (rank > *best_rank) {
		*best_rank = rank;
		*best = r;
	}
}

/* The class of a port (FW_PK_DCLASS or FW_PK_SCLASS): the value of its FW_PMAP entry,
 * 0 when no rule's port covers it, -1 when the protocol's ports of that direction have
 * no classes (a protocol with classes has a catch-all /0 entry: its single ports are
 * classes too, so that one probe finds single ports and ranges alike). */
static __always_inline int port_class(void *trie, __u8 proto, __u8 pkind, __be16 port)
{
	struct fw_key k = {};
	struct fw_rule *r;

	k.prefixlen = FW_HDR_BITS + 16;
	k.dim = FW_PMAP;
	k.proto = proto;
	k.pkind = pkind;
	__builtin_memcpy(k.addr, &port, 2);
	r = bpf_map_lookup_elem(trie, &k);
	return r ? (int)(__u16)r->interval_ns : -1;
}

/* The classes of one address dimension, most specific first (the rank decides anyway;
 * a class with no entries in the rule set is skipped by its mask bit). */
static __always_inline void lookup_dim(void *trie, struct fw_key *k, struct fw_pkt *p,
				       __u32 mask, int dcls, int scls,
				       struct fw_rule **best, __u32 *best_rank)
{
	if (p->has_port) {
		if ((mask & (1u << FW_SPEC_DPORT)) && dcls < 0)
			probe(trie, k, p->proto, FW_PK_DPORT, p->dport, best, best_rank);
		if ((mask & (1u << FW_SPEC_SPORT)) && scls < 0)
			probe(trie, k, p->proto, FW_PK_SPORT, p->sport, best, best_rank);
		if ((mask & (1u << FW_SPEC_DRANGE)) && dcls > 0)
			probe(trie, k, p->proto, FW_PK_DCLASS, bpf_htons(dcls), best, best_rank);
		if ((mask & (1u << FW_SPEC_SRANGE)) && scls > 0)
			probe(trie, k, p->proto, FW_PK_SCLASS, bpf_htons(scls), best, best_rank);
	}
	if (mask & (1u << FW_SPEC_PROTO))
		probe(trie, k, p->proto, FW_PK_DPORT, 0, best, best_rank);
	if (mask & (1u << FW_SPEC_NONE))
		probe(trie, k, 0, FW_PK_DPORT, 0, best, best_rank);
}

/* One class of two-address rules: the destination prefix gives the group, the source
 * prefix inside the group the rule (the best of the rules enclosing both, see
 * firewall.h). */
static __always_inline void pair_probe(void *trie, struct fw_pkt *p, __u8 proto, __u8 pkind,
				       __be16 port, struct fw_rule **best, __u32 *best_rank)
{
	struct fw_key k = {};
	struct fw_rule *g;
	__u32 grp;

	k.prefixlen = FW_HDR_BITS + (p->family == FW_V4 ? 32 : 128);
	k.dim = FW_PAIR1;
	k.family = p->family;
	k.proto = proto;
	k.pkind = pkind;
	k.port = port;
	__builtin_memcpy(k.addr, p->dst, 16);
	g = bpf_map_lookup_elem(trie, &k);
	if (!g)
		return;
	grp = (__u32)g->interval_ns;
	k.dim = FW_PAIR2;
	__builtin_memcpy(k.addr, p->src, 16);
	/* the group id takes the place of proto, pkind and port */
	probe(trie, &k, grp & 0xff, (grp >> 8) & 0xff, grp >> 16, best, best_rank);
}

static __always_inline void lookup_pairs(void *trie, struct fw_pkt *p, __u32 pm, int dcls,
					 int scls, struct fw_rule **best, __u32 *best_rank)
{
	if (p->has_port) {
		if ((pm & (1u << FW_SPEC_DPORT)) && dcls < 0)
			pair_probe(trie, p, p->proto, FW_PK_DPORT, p->dport, best, best_rank);
		if ((pm & (1u << FW_SPEC_SPORT)) && scls < 0)
			pair_probe(trie, p, p->proto, FW_PK_SPORT, p->sport, best, best_rank);
		if ((pm & (1u << FW_SPEC_DRANGE)) && dcls > 0)
			pair_probe(trie, p, p->proto, FW_PK_DCLASS, bpf_htons(dcls), best,
				   best_rank);
		if ((pm & (1u << FW_SPEC_SRANGE)) && scls > 0)
			pair_probe(trie, p, p->proto, FW_PK_SCLASS, bpf_htons(scls), best,
				   best_rank);
	}
	if (pm & (1u << FW_SPEC_PROTO))
		pair_probe(trie, p, p->proto, FW_PK_DPORT, 0, best, best_rank);
	if (pm & (1u << FW_SPEC_NONE))
		pair_probe(trie, p, 0, FW_PK_DPORT, 0, best, best_rank);
}

/* Within rate?  GCRA: a packet conforms if, after it, the theoretical arrival time is
 * no more than burst intervals ahead of now.  Lock-free with compare-and-swap; built with
 * FW_NO_CAS (firewall_nocas.bpf.c, for kernels before 5.12, whose verifier refuses the
 * instruction anywhere in a program) the update is a plain store. */
static __always_inline int within_rate(struct fw_rule *r, struct fw_pkt *p)
{
	struct fw_bucket_key bk = {};
	struct fw_bucket *b, nb;
	__u64 now = bpf_ktime_get_ns();
	__u32 per = r->per;

	bk.rule = r->id;
	bk.family = p->family;
	__builtin_memcpy(bk.addr, p->src, 16);
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 *w = (__u32 *)&bk.addr[i * 4];
		__u32 bits = per > (__u32)i * 32 ? per - i * 32 : 0;
		if (bits < 32)
			*w &= bits ? bpf_htonl(~0u << (32 - bits)) : 0;
	}
	b = bpf_map_lookup_elem(&buckets, &bk);
	if (!b) {
		nb.tat = now + r->interval_ns;
		if (bpf_map_update_elem(&buckets, &bk, &nb, BPF_NOEXIST) == 0)
			return 1;
		b = bpf_map_lookup_elem(&buckets, &bk);
		if (!b)
			return 1;
	}
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u64 old = b->tat;
		__u64 t = old > now ? old : now;
		__u64 next = t + r->interval_ns;
		if (next - now > r->burst_ns)
			return 0;
#ifdef FW_NO_CAS
		b->tat = next;
		return 1;
#else
		if (__sync_val_compare_and_swap(&b->tat, old, next) == old)
			return 1;
#endif
	}
	return 1;   /* lost the race four times: let it through */
}

/* 0: pass, 1: drop. */
static __always_inline int classify(void *data, void *end, __u64 bytes)
{
	struct fw_pkt p = {};
	struct fw_key k = {};
	struct fw_rule *best = 0;
	struct fw_stats *st;
	__u32 zero = 0, best_rank = 0, mask, both, pm;
	int dcls = -1, scls = -1;
	struct fw_conf *c;
	void *trie;
	int verdict;

	verdict = parse(data, end, &p);
	if (verdict != PARSE_IP) {
		count_action(verdict == PARSE_NONIP ? FW_ACT_NONIP : FW_ACT_MALFORMED, bytes);
		return 0;
	}
	c = bpf_map_lookup_elem(&conf, &zero);
	trie = bpf_map_lookup_elem(&rulesets, &zero);
	if (!c || !trie) {
		count_action(FW_ACT_NOMATCH, bytes);
		return 0;
	}
	mask = c->mask >> ((p.family - 1) * 16);
	pm = (c->pmask >> ((p.family - 1) * 8)) & 0xff;
	both = mask | mask >> 8 | pm;
	/* Port classes are looked up once, for both address dimensions. */
	if (p.has_port && (both & (1u << FW_SPEC_DRANGE)))
		dcls = port_class(trie, p.proto, FW_PK_DCLASS, p.dport);
	if (p.has_port && (both & (1u << FW_SPEC_SRANGE)))
		scls = port_class(trie, p.proto, FW_PK_SCLASS, p.sport);
	k.family = p.family;
	if (mask & 0xff) {
		k.prefixlen = FW_HDR_BITS + (p.family == FW_V4 ? 32 : 128);
		k.dim = FW_SRC;
		__builtin_memcpy(k.addr, p.src, 16);
		lookup_dim(trie, &k, &p, mask, dcls, scls, &best, &best_rank);
	}
	if (mask & 0xff00) {
		k.prefixlen = FW_HDR_BITS + (p.family == FW_V4 ? 32 : 128);
		k.dim = FW_DST;
		__builtin_memcpy(k.addr, p.dst, 16);
		lookup_dim(trie, &k, &p, mask >> 8, dcls, scls, &best, &best_rank);
	}
	if (pm)
		lookup_pairs(trie, &p, pm, dcls, scls, &best, &best_rank);
	if (!best) {
		count_action(FW_ACT_NOMATCH, bytes);
		return 0;
	}
	st = bpf_map_lookup_elem(&rule_stats, &best->id);
	if (st) {
		st->packets++;
		st->bytes += bytes;
	}
	if (best->action == FW_ALLOW) {
		count_action(FW_ACT_PASS, bytes);
		return 0;
	}
	if (best->action == FW_LIMIT && within_rate(best, &p)) {
		count_action(FW_ACT_PASS, bytes);
		return 0;
	}
	if (best->action == FW_LIMIT) {
		if (st) {
			st->limited++;
			st->limited_bytes += bytes;
		}
		count_action(FW_ACT_LIMITED, bytes);
		return 1;
	}
	count_action(FW_ACT_DROP, bytes);
	return 1;
}

SEC("xdp")
int firewall_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	return classify(data, end, end - data) ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int firewall_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	return classify(data, end, skb->len) ? 2 /* TC_ACT_SHOT */ : 0 /* TC_ACT_OK */;
}

char LICENSE[] SEC("license") = "GPL";
