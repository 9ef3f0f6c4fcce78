/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers for exporter programs: counting into maps the exporter reads, and the exp2
 * bucket whose upper bound is exact (a value v goes to the smallest i with v <= 2^i, so
 * Prometheus' le="2^i" bucket holds exactly the values at most 2^i). */
#ifndef PYBPF_EXPORTER_H
#define PYBPF_EXPORTER_H

#include <bpf/bpf_helpers.h>

/* ceil(log2(v)): 0 for v <= 1; loop-free, so any verifier accepts it. */
static __always_inline __u64 exp2_bucket(__u64 v)
{
	__u64 r = 0, shift;

	if (v <= 1)
		return 0;
	v -= 1;                       /* ceil(log2(v)) == floor(log2(v - 1)) + 1 */
	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r + 1;
}

/* Counts that could not be stored because a map was full: the exporter shows them as
 * pybpf_exporter_bpf_lost_total{program}, so nothing is lost silently. */
__u64 pybpf_exporter_lost = 0;

/* map[key] += n, creating the entry (a full map: counted in pybpf_exporter_lost). */
static __always_inline void counter_add(void *map, const void *key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, key);

	if (v) {
		__sync_fetch_and_add(v, n);
		return;
	}
	if (bpf_map_update_elem(map, key, &n, BPF_NOEXIST) == 0)
		return;
	v = bpf_map_lookup_elem(map, key);   /* another CPU created it meanwhile */
	if (v)
		__sync_fetch_and_add(v, n);
	else
		__sync_fetch_and_add(&pybpf_exporter_lost, 1);
}

/* One observation into a histogram map whose key struct ends in a __u64 `bucket`:
 * the count at the value's exp2 bucket (capped at max_bucket) and the running sum of the
 * values at max_bucket + 1, as the exporter's `bucket_type: exp2` reads them. */
#define observe_exp2(map, keyp, value, max_bucket) do {                        \
	__u64 __b = exp2_bucket(value);                                         \
	(keyp)->bucket = __b > (max_bucket) ? (max_bucket) : __b;               \
	counter_add(map, keyp, 1);                                              \
	(keyp)->bucket = (max_bucket) + 1;                                      \
	counter_add(map, keyp, value);                                          \
} while (0)

#endif
