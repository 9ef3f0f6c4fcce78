/* bcc's -e/--extension of the histogram tools (biolatency, cpudist): the total and the
 * count of the values put in the histograms, for an average line per interval. */
#ifndef PYBPF_TOOLS_EXTSUM_BPF_H
#define PYBPF_TOOLS_EXTSUM_BPF_H

const volatile bool extension = false;   /* -e */

struct ext_val {
	__u64 total;
	__u64 count;
};

BPF_MAP(ext, BPF_MAP_TYPE_ARRAY, __u32, struct ext_val, 1);

/* Add value (in the histogram's unit) to the totals when -e asked for them. */
static __always_inline void ext_add(__u64 value)
{
	__u32 zero = 0;
	struct ext_val *e;

	if (!extension)
		return;
	e = bpf_map_lookup_elem(&ext, &zero);
	if (e) {
		__sync_fetch_and_add(&e->total, value);
		__sync_fetch_and_add(&e->count, 1);
	}
}

#endif
