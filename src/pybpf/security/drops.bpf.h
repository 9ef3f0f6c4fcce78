/* pybpf security: the drop counter of an event stream (audit, sslsniff).  Events that
 * could not be delivered (ring buffer or a pending table full) are counted per CPU at
 * key 0; the Python side sums them and reports what was lost. */
#ifndef PYBPF_SECURITY_DROPS_BPF_H
#define PYBPF_SECURITY_DROPS_BPF_H

#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);

	if (n)
		*n += 1;
}

#endif
