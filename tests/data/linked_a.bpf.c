// SPDX-License-Identifier: GPL-2.0
/* Half of an object linked by `bpftool gen object` with linked_b.bpf.c: weak and strong
 * functions and maps, an extern function and an extern variable resolved by the link, and a
 * static function whose name linked_b's static one shares (both land in the linked .text). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct lk_h32 {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct lk_h32 lk_map_w SEC(".maps");
struct lk_h32 lk_map_s SEC(".maps");              /* strong here, weak in linked_b */
__weak struct lk_h32 lk_map_ww SEC(".maps");      /* weak in both */
struct lk_h32 lk_map_1 SEC(".maps");              /* only here */
int lk_shared = 7;                                /* .data, read by linked_b */
extern int lk_only2(int x);                       /* defined in linked_b */

__weak __noinline int lk_only1(int x) { return x + 1; }
__weak __noinline int lk_w(int x) { return x + 100; }     /* strong in linked_b */
__noinline int lk_s(int x) { return x + 3; }               /* weak in linked_b */
static __noinline int lk_twin(int x) { return x + 1000; }  /* linked_b's is x * 3 */

SEC("socket")
int lk_entry1(struct __sk_buff *skb)
{
	__u32 k = 0, *v = bpf_map_lookup_elem(&lk_map_w, &k);
	__u32 *v2 = bpf_map_lookup_elem(&lk_map_s, &k);
	__u32 *v3 = bpf_map_lookup_elem(&lk_map_ww, &k);
	__u32 *v4 = bpf_map_lookup_elem(&lk_map_1, &k);

	return lk_only2(skb->len) + lk_w(1) + lk_s(2) + lk_twin(skb->len) + (v ? *v : 0) +
	       (v2 ? *v2 : 0) +
	       (v3 ? *v3 : 0) + (v4 ? *v4 : 0);
}

char LICENSE[] SEC("license") = "GPL";
