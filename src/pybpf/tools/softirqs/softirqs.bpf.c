// SPDX-License-Identifier: GPL-2.0
/* softirqs: time (or count) spent in soft interrupts by vector, from the irq
 * tracepoints; totals and histograms kept in the kernel. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "softirqs.h"

const volatile bool do_count = false;
const volatile bool do_dist = false;
const volatile bool nanos = false;
const volatile int targ_cpu = -1;    /* -c: this CPU only */

PERCPU_ARRAY_MAP(start, __u64, 1);
HASH_MAP(totals, __u32, __u64, 32);
HASH_MAP(hists, __u32, struct hist, 32);

SEC("tracepoint/irq/softirq_entry")
int entry(struct trace_event_raw_softirq *ctx)
{
	__u32 zero = 0, vec = ctx->vec;
	__u64 *ts;

	/* the exit finds no start stamp on another CPU (start is per CPU) */
	if (targ_cpu >= 0 && bpf_get_smp_processor_id() != targ_cpu)
		return 0;
	if (do_count) {
		counter_add(&totals, &vec, 1);
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
		counter_add(&totals, &vec, delta);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
