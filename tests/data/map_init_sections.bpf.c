// SPDX-License-Identifier: GPL-2.0
/* Sections other loaders accept but libbpf does not ("socket/tail"), and maps initialised
 * at load: a program array holding a program, an array of maps holding a map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("socket/tail")
int mi_tail(struct __sk_buff *skb)
{
	return 42;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, 4);
	__array(values, int(struct __sk_buff *));
} mi_jmp SEC(".maps") = {
	.values = { [1] = (void *)&mi_tail },
};

struct mi_inner_t {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} mi_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct mi_inner_t);
} mi_outer SEC(".maps") = {
	.values = { [1] = &mi_inner },
};

SEC("socket/main")
int mi_main(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &mi_jmp, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
