// SPDX-License-Identifier: GPL-2.0
/* A chain of tail calls placed by section name alone.  "classifier" counts the frame and
 * jumps to hops[hash & 1]; hop_b (slot 1) jumps on to hop_a (slot 0); hop_a jumps to
 * the one program of the second array, finish.  skb->cb[0] carries where each came
 * from; every hop logs the count.  All three maps are pinned per object. */
#include "tc_elf.h"

#define HOPS		7		/* label of the first program array */
#define LAST		0x20		/* of the second: its section reads "0x20/0" */
#define FROM_START	9

struct tc_map_def hops TC_MAP = {
	.type = BPF_MAP_TYPE_PROG_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 2,
	.id = HOPS,
	.pinning = TC_PIN_OBJECT,
};

struct tc_map_def last TC_MAP = {
	.type = BPF_MAP_TYPE_PROG_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.id = LAST,
	.pinning = TC_PIN_OBJECT,
};

struct tc_map_def seen TC_MAP = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.pinning = TC_PIN_OBJECT,
};

static __always_inline __u32 count(void)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&seen, &zero);

	return n ? *n : 0;
}

TC_TAIL(HOPS, 0)
int hop_a(struct __sk_buff *skb)
{
	tc_log("pyip2 hop_a: %u from:%u\n", count(), skb->cb[0]);
	skb->cb[0] = 0;
	bpf_tail_call(skb, &last, 0);
	return TC_ACT_OK;
}

TC_TAIL(HOPS, 1)
int hop_b(struct __sk_buff *skb)
{
	tc_log("pyip2 hop_b: %u from:%u\n", count(), skb->cb[0]);
	skb->cb[0] = 1;
	bpf_tail_call(skb, &hops, 0);
	return TC_ACT_OK;
}

TC_TAIL(LAST, 0)
int finish(struct __sk_buff *skb)
{
	tc_log("pyip2 finish: %u from:%u\n", count(), skb->cb[0]);
	return TC_ACT_OK;
}

TC_ENTRY
int start(struct __sk_buff *skb)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&seen, &zero);

	if (n) {
		__sync_fetch_and_add(n, 1);
		skb->cb[0] = FROM_START;
		bpf_tail_call(skb, &hops, skb->hash & 1);
	}
	tc_log("pyip2 missed\n");
	return TC_ACT_OK;
}

TC_LICENSE("GPL");
