// SPDX-License-Identifier: GPL-2.0
/* A map-in-map whose slot 0 holds a counter: "egress" counts through it, "ingress" logs
 * the count.  Legacy build: the counter is labelled SLOTS with inner_idx 0, the outer
 * map names SLOTS as inner_id, so the loader shapes the outer map's inner maps like the
 * counter and puts the counter in slot 0; both pinned globally.  -DBTF_MAPS: the same
 * with BTF maps, the outer one initialised with the counter and pinned by name. */
#include "tc_elf.h"

#define SLOTS	42

#ifdef BTF_MAPS
struct counter_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, 4);
	__uint(value_size, 4);
} tally SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct counter_map);
} tallies SEC(".maps") = {
	.values = { [0] = &tally },
};
#else
struct tc_map_def tally TC_MAP = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.id = SLOTS,
	.pinning = TC_PIN_GLOBAL,
	.inner_idx = 0,
};

struct tc_map_def tallies TC_MAP = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.pinning = TC_PIN_GLOBAL,
	.inner_id = SLOTS,
};
#endif

static __always_inline __u32 *counter(void)
{
	__u32 zero = 0;
	void *inner = bpf_map_lookup_elem(&tallies, &zero);

	return inner ? bpf_map_lookup_elem(inner, &zero) : 0;
}

SEC("egress")
int count_out(struct __sk_buff *skb)
{
	__u32 *n = counter();

	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}

SEC("ingress")
int show_in(struct __sk_buff *skb)
{
	__u32 *n = counter();

	if (n)
		tc_log("pyip2 mim: %u\n", *n);
	return TC_ACT_OK;
}

TC_LICENSE("GPL");
