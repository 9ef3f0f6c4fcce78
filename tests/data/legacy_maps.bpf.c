// SPDX-License-Identifier: GPL-2.0
/* Legacy SEC("maps") definitions as iproute2 writes them (struct bpf_elf_map: the five
 * fields of struct bpf_map_def, then id, pinning, inner_id, inner_idx).  -DBAD_TAIL adds
 * an unknown non-zero option after struct bpf_map_def; -DSTATIC_MAP a static map, which
 * clang addresses through the section symbol; -DINNER_ID an iproute2 map-in-map (its
 * inner maps shaped like lg_plain, which goes into its slot 0). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_elf_map {
	__u32 type, size_key, size_value, max_elem, flags;
	__u32 id, pinning, inner_id, inner_idx;
};

#define PIN_GLOBAL_NS 2

struct bpf_elf_map lg_pinned SEC("maps") = {
	.type = BPF_MAP_TYPE_HASH, .size_key = 4, .size_value = 8, .max_elem = 2,
	.pinning = PIN_GLOBAL_NS,
};
struct bpf_elf_map lg_plain SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 4, .max_elem = 4,
	.id = 2,		/* a label: for "2/<key>" sections and inner_id 2 */
};
#ifdef INNER_ID
struct bpf_elf_map lg_outer SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS, .size_key = 4, .size_value = 4, .max_elem = 1,
	.inner_id = 2,
};
#endif
#ifdef BAD_TAIL
struct {
	__u32 type, key_size, value_size, max_entries, map_flags;
	__u32 dummy;
} lg_bad SEC("maps") = {
	.type = BPF_MAP_TYPE_HASH, .key_size = 4, .value_size = 2, .max_entries = 1,
	.dummy = 1,
};
#endif
#ifdef STATIC_MAP
static struct bpf_elf_map lg_static SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 4, .max_elem = 1,
};
#endif

SEC("socket")
int lg_prog(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&lg_pinned, &k);
	__u32 *w = bpf_map_lookup_elem(&lg_plain, &k);
#ifdef STATIC_MAP
	w = bpf_map_lookup_elem(&lg_static, &k);
#endif
	return (v ? *v : 0) + (w ? *w : 0);
}

char LICENSE[] SEC("license") = "GPL";
