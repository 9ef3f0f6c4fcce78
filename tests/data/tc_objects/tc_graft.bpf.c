// SPDX-License-Identifier: GPL-2.0
/* Behaviour changed at run time: "classifier" tail-calls slot 0 of a program array that
 * starts out empty (so it logs a fall-through), and whoever holds the pinned array may
 * store swap_a (section alt_a) or swap_b (alt_b) there later, each logging its own line.  Legacy build: the
 * array pinned globally; -DBTF_MAPS: a BTF map pinned by name. */
#include "tc_elf.h"

#ifdef BTF_MAPS
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} jumps SEC(".maps");
#else
struct tc_map_def jumps TC_MAP = {
	.type = BPF_MAP_TYPE_PROG_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.pinning = TC_PIN_GLOBAL,
};
#endif

SEC("alt_a")
int swap_a(struct __sk_buff *skb)
{
	tc_log("pyip2 swap a\n");
	return TC_ACT_OK;
}

SEC("alt_b")
int swap_b(struct __sk_buff *skb)
{
	tc_log("pyip2 swap b\n");
	return TC_ACT_OK;
}

TC_ENTRY
int start(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jumps, 0);
	tc_log("pyip2 graft fallthrough\n");
	return TC_ACT_OK;
}

TC_LICENSE("GPL");
