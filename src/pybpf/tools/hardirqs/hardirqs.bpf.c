// SPDX-License-Identifier: GPL-2.0
/* hardirqs: time (or count) of hard interrupt handlers by name, from the irq
 * tracepoints; totals and histograms kept in the kernel. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "hardirqs.h"

const volatile bool do_count = false;
const volatile bool do_dist = false;
const volatile bool nanos = false;
const volatile int targ_cpu = -1;    /* -c: this CPU only */

struct entry {
	__u64 ts;
	struct irq_key key;
};

PERCPU_ARRAY_MAP(start, struct entry, 1);
HASH_MAP(totals, struct irq_key, __u64, 1024);
HASH_MAP(hists, struct irq_key, struct hist, 1024);

SEC("tracepoint/irq/irq_handler_entry")
int entry(struct trace_event_raw_irq_handler_entry *ctx)
{
	__u32 zero = 0, off = ctx->__data_loc_name & 0xFFFF;
	struct entry *e = bpf_map_lookup_elem(&start, &zero);

	if (!e)
		return 0;
	/* the exit finds no start stamp on another CPU (start is per CPU) */
	if (targ_cpu >= 0 && bpf_get_smp_processor_id() != targ_cpu)
		return 0;
	__builtin_memset(&e->key, 0, sizeof(e->key));
	bpf_probe_read_kernel_str(e->key.name, sizeof(e->key.name), (void *)ctx + off);
	if (do_count) {
		counter_add(&totals, &e->key, 1);
		return 0;
	}
	e->ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tracepoint/irq/irq_handler_exit")
int exit_(struct trace_event_raw_irq_handler_exit *ctx)
{
	__u32 zero = 0;
	struct entry *e = bpf_map_lookup_elem(&start, &zero);
	__u64 delta;

	if (do_count || !e || !e->ts)
		return 0;
	delta = bpf_ktime_get_ns() - e->ts;
	e->ts = 0;
	if (do_dist) {
		delta /= nanos ? 1 : 1000;
		hist_add(&hists, &e->key, delta);
	} else {
		counter_add(&totals, &e->key, delta);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
