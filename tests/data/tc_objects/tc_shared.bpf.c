// SPDX-License-Identifier: GPL-2.0
/* One counter shared by two separately attached programs: "egress" counts the frames it
 * sees, "ingress" logs the count on arrival.  Legacy build: the map is pinned in the
 * object's own directory (TC_PIN_OBJECT), so two loads of this object find one map.
 * -DBTF_MAPS: the same with a BTF-defined map pinned by name (what libbpf, and so
 * Debian's tc, can load). */
#include "tc_elf.h"

#ifdef BTF_MAPS
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hits SEC(".maps");
#else
struct tc_map_def hits TC_MAP = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.pinning = TC_PIN_OBJECT,
};
#endif

SEC("egress")
int count_out(struct __sk_buff *skb)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&hits, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}

SEC("ingress")
int show_in(struct __sk_buff *skb)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&hits, &zero);

	if (!n)
		return TC_ACT_OK;
	tc_log("pyip2 shared: %u\n", *n);
	return TC_ACT_OK;
}

TC_LICENSE("GPL");
