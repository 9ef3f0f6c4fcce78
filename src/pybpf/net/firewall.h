/* SPDX-License-Identifier: GPL-2.0 */
/* Layouts shared by firewall.bpf.c and the Python control plane (pybpf/net/maps.py
 * mirrors them with struct formats; tests check the sizes agree). */
#ifndef PYBPF_FIREWALL_H
#define PYBPF_FIREWALL_H

/* Rule trie key: an LPM key whose "data" is a fixed header followed by the address.
 * The header (dim, family, proto, pkind, port) is always matched exactly (its 48 bits
 * count in prefixlen); only the address part is a prefix.  proto 0 / port 0 mean "any".
 * pkind says what port is: a destination or source port, or the class of one (a port
 * range class from the port-class entries, see FW_PMAP).
 * FW_PMAP entries map a port to its class: dim FW_PMAP, family 0, proto, pkind
 * FW_PK_DCLASS or FW_PK_SCLASS, port 0, and the port (network order) in addr[0..1] as
 * a prefix, so a range is a handful of entries; the class is the value's interval_ns.
 * Two-address rules ("from A to B") take two lookups per class: FW_PAIR1 keys (the
 * class header and the destination prefix) give a group (the value's interval_ns), and
 * FW_PAIR2 keys (the group in place of proto, pkind and port, and the source prefix)
 * give the rule.  The control plane fills every group with the rules of enclosing
 * destination prefixes and every entry with the best of its enclosing rules, so that two
 * longest-prefix lookups find the best two-address rule of the class.  (Dim 3 holds
 * records for the control plane only.) */
#define FW_HDR_BITS 48
struct fw_key {
	__u32 prefixlen;
	__u8 dim;        /* FW_SRC or FW_DST: which address the prefix applies to */
	__u8 family;     /* FW_V4 or FW_V6 */
	__u8 proto;      /* IPPROTO_*, 0 = any */
	__u8 pkind;      /* FW_PK_*: what port holds */
	__u16 port;      /* port (network order) or port class, 0 = any */
	__u8 addr[16];   /* IPv4 uses the first 4 bytes */
};

enum { FW_SRC = 0, FW_DST = 1, FW_PMAP = 2, FW_PAIR1 = 4, FW_PAIR2 = 5 };
enum { FW_PK_DPORT = 0, FW_PK_DCLASS = 1, FW_PK_SPORT = 2, FW_PK_SCLASS = 3 };
enum { FW_V4 = 1, FW_V6 = 2 };

/* How specific a rule is beyond its prefix: a single port beats a port range beats a
 * protocol beats neither; destination ports before source ports of the same kind.
 * A value's spec is its rank; a class mask bit says which probe finds the key (a single
 * port of a protocol with port classes is a class key, found by the range probe). */
enum { FW_SPEC_NONE = 0, FW_SPEC_PROTO = 1, FW_SPEC_SRANGE = 2, FW_SPEC_DRANGE = 3,
       FW_SPEC_SPORT = 4, FW_SPEC_DPORT = 5 };

enum { FW_ALLOW = 0, FW_DENY = 1, FW_LIMIT = 2 };

/* spec flag of a two-address rule: it outranks a one-address rule of the same rank */
#define FW_SPEC_PAIR 8

/* The value of a trie entry. */
struct fw_rule {
	__u32 id;          /* index into rule_stats */
	__u8 action;       /* FW_ALLOW / FW_DENY / FW_LIMIT */
	__u8 plen;         /* address prefix length, the longer one of a two-address rule
			    * (the rule's rank, first) */
	__u8 spec;         /* FW_SPEC_* (rank, second) */
	__u8 per;          /* FW_LIMIT: source prefix length a bucket covers (32/128 = one address) */
	__u64 interval_ns; /* FW_LIMIT: 1e9 / rate */
	__u64 burst_ns;    /* FW_LIMIT: burst * interval_ns */
};

/* Per-rule counters (per-CPU; the control plane sums the CPUs). */
struct fw_stats {
	__u64 packets;     /* matched the rule */
	__u64 bytes;
	__u64 limited;     /* FW_LIMIT: of those, dropped for exceeding the rate */
	__u64 limited_bytes;
};

/* Per-action counters (per-CPU array indexed by these). */
enum {
	FW_ACT_PASS = 0,      /* allowed by a rule (allow, or limit within rate) */
	FW_ACT_DROP = 1,      /* dropped by a deny rule (the default policy is a rule too) */
	FW_ACT_LIMITED = 2,   /* dropped by a limit rule over its rate */
	FW_ACT_NOMATCH = 3,   /* IP packet no rule matched: passed (only with no default rule) */
	FW_ACT_NONIP = 4,     /* not IPv4/IPv6 (ARP, ...): passed */
	FW_ACT_MALFORMED = 5, /* truncated headers: passed, the stack drops them */
	FW_ACT_MAX = 6,
};
struct fw_counter {
	__u64 packets;
	__u64 bytes;
};

/* Rate-limit bucket: one per (rule, masked source) in an LRU map. */
struct fw_bucket_key {
	__u32 rule;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};
struct fw_bucket {
	__u64 tat;         /* GCRA's theoretical arrival time, ns (CLOCK_MONOTONIC) */
};

/* Control word, array index 0.  mask: bit (family-1)*16 + dim*8 + spec is set when the
 * active rule set has entries of that class; the program skips lookups of empty classes.
 * The control plane keeps it a superset of the live trie's classes while switching. */
struct fw_conf {
	__u32 mask;
	__u32 hook;        /* informational (status): 1 xdp native, 2 xdp generic, 3 tc ingress, 4 tc egress */
	__u32 capacity;
	__u32 next_id;     /* control plane only: ids from here up are unused (in-place adds) */
	__u32 pmask;       /* two-address rule classes: bit (family-1)*8 + spec */
	__u32 pad;
};

#endif
