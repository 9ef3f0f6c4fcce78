// SPDX-License-Identifier: GPL-2.0
/* An object of libbpf 0.x's era, in the shape the samples/bpf-style tutorials still teach:
 * legacy SEC("maps") definitions and section names libbpf 0.x matched as bare prefixes
 * ("xdp_count" is XDP, "socket/drop" a socket filter, "classifier_in" a tc classifier).
 * -DSHORT_ELF_MAP writes the maps in an older iproute2's 28-byte struct bpf_elf_map (no
 * inner_id/inner_idx), which tc zero-fills; lx_counts is then pinned PIN_GLOBAL_NS.
 * -DGO_MAP_SECTION puts lx_seen in a section of its own, as Go loaders (gobpf) want. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifdef SHORT_ELF_MAP
struct lx_map_def {
	__u32 type, size_key, size_value, max_elem, flags;
	__u32 id, pinning;
};
#define LX_PIN .pinning = 2,
#else
struct lx_map_def {
	__u32 type, key_size, value_size, max_entries, map_flags;
};
#define LX_PIN
#endif

struct lx_map_def lx_counts SEC("maps") = {
	BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, LX_PIN
};
#ifdef GO_MAP_SECTION
#define LX_SEEN_SEC "maps/lx_seen"
#else
#define LX_SEEN_SEC "maps"
#endif
struct lx_map_def lx_seen SEC(LX_SEEN_SEC) = {
	BPF_MAP_TYPE_HASH, 4, 4, 8, 0,
};

SEC("xdp_count")
int lx_xdp(struct xdp_md *ctx)
{
	__u32 k = 0, one = 1;
	__u64 *v = bpf_map_lookup_elem(&lx_counts, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	bpf_map_update_elem(&lx_seen, &k, &one, BPF_ANY);
	return XDP_PASS;
}

SEC("socket/drop")
int lx_sock(struct __sk_buff *skb)
{
	return 0;
}

SEC("classifier_in")
int lx_cls(struct __sk_buff *skb)
{
	return skb->len > 0 ? 0 : 2;	/* TC_ACT_OK, TC_ACT_SHOT */
}

char LICENSE[] SEC("license") = "GPL";
