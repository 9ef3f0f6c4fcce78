// SPDX-License-Identifier: GPL-2.0
/* softirqs: time (or count) spent in soft interrupts by vector, from the irq
 * tracepoints; totals and histograms kept in the kernel. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "softirqs.h"

const volatile bool do_count = false;
const volatile bool do_dist = false;
const volatile bool nanos = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

static __always_inline void add_total(__u32 *key, __u64 v)
{
	__u64 *t = bpf_map_lookup_elem(&totals, key), zero = 0;

	if (!t) {
		bpf_map_update_elem(&totals, key, &zero, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&totals, key);
		if (!t) {
			count_drop();
			return;
		}
	}
	__sync_fetch_and_add(t, v);
}

SEC("tracepoint/irq/softirq_entry")
int entry(struct trace_event_raw_softirq *ctx)
{
	__u32 zero = 0, vec = ctx->vec;
	__u64 *ts;

	if (do_count) {
		add_total(&vec, 1);
		return 0;
	}
	ts = bpf_map_lookup_elem(&start, &zero);
	if (ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tracepoint/irq/softirq_exit")
int exit_(struct trace_event_raw_softirq *ctx)
{
	__u32 zero = 0, vec = ctx->vec;
	__u64 *ts = bpf_map_lookup_elem(&start, &zero), delta;

	if (do_count || !ts || !*ts)
		return 0;
	delta = bpf_ktime_get_ns() - *ts;
	*ts = 0;
	if (do_dist) {
		delta /= nanos ? 1 : 1000;
		hist_add(&hists, &vec, delta);
	} else {
		add_total(&vec, delta);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
