// SPDX-License-Identifier: GPL-2.0
/* The other half of linked_a.bpf.c (see there). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct lk_h32 {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};


__weak struct lk_h32 lk_map_s SEC(".maps");
__weak struct lk_h32 lk_map_ww SEC(".maps");
struct lk_h32 lk_map_2 SEC(".maps");
extern int lk_shared;
extern int lk_only1(int x);

__noinline int lk_only2(int x) { return x * 2 + lk_shared; }
__noinline int lk_w(int x) { return x + 2; }
__weak __noinline int lk_s(int x) { return x + 300; }
static __noinline int lk_twin(int x) { return x * 3; }     /* linked_a has one too */

SEC("tracepoint/syscalls/sys_enter_getpid")
int lk_entry2(void *ctx)
{
	__u32 k = 0, *v = bpf_map_lookup_elem(&lk_map_2, &k);

	return lk_only1(1) + lk_w(2) + lk_s(3) + lk_twin(bpf_get_smp_processor_id()) +
	       (v ? *v : 0);
}
