// SPDX-License-Identifier: GPL-2.0
/* A program that tail-calls itself: the kernel stops the chain after its limit of tail
 * calls, and the program then returns TC_ACT_OK.  The entry drops the frame
 * (TC_ACT_SHOT) if its own tail call fails, so a frame that arrives proves the loop
 * ran.  skb->cb[0] counts the rounds, each logged. */
#include "tc_elf.h"

#define RING	0xc0ffee		/* the section below reads "0xc0ffee/0" */

struct tc_map_def ring TC_MAP = {
	.type = BPF_MAP_TYPE_PROG_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.id = RING,
	.pinning = TC_PIN_OBJECT,
};

TC_TAIL(RING, 0)
int spin(struct __sk_buff *skb)
{
	__u32 round = skb->cb[0];

	tc_log("pyip2 spin: %u\n", round);
	skb->cb[0] = round + 1;
	bpf_tail_call(skb, &ring, 0);
	return TC_ACT_OK;
}

TC_ENTRY
int start(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &ring, 0);
	return TC_ACT_SHOT;
}

TC_LICENSE("GPL");
