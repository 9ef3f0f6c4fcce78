// SPDX-License-Identifier: GPL-2.0
/* Legacy SEC("maps") definitions (struct bpf_map_def), no BTF needed for maps. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct legacy_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct legacy_map_def old_hash SEC("maps") = {
	.type = BPF_MAP_TYPE_HASH, .key_size = 4, .value_size = 8, .max_entries = 32,
};
struct legacy_map_def old_array SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 2,
	.map_flags = 1024,
};

SEC("socket")
int legacy_prog(struct __sk_buff *skb)
{
	int k = 0;
	long *v = bpf_map_lookup_elem(&old_hash, &k);

	bpf_map_lookup_elem(&old_array, &k);
	return v ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
