// SPDX-License-Identifier: GPL-2.0
/* trace: the fixed half of trace's object.  tools/_probegen.py appends one program per
 * probe specifier (filter, values) and compiles the whole text; on its own this builds
 * an object without programs. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_probegen.bpf.h"
#include "trace.h"

#ifndef EVENTS_BYTES
#define EVENTS_BYTES (1024 * 1024)      /* -b sets it (a power of two, whole pages) */
#endif
RINGBUF_MAP(events, EVENTS_BYTES);

/* An event of size bytes for probe, its head filled; NULL (a drop counted) when the
 * ring buffer is full. */
static __always_inline void *trace_event(__u32 size, __u32 probe)
{
	struct trace_head *h = bpf_ringbuf_reserve(&events, size, 0);
	__u64 id = bpf_get_current_pid_tgid();

	if (!h) {
		count_drop();
		return NULL;
	}
	h->ts_ns = bpf_ktime_get_ns();
	h->tgid = id >> 32;
	h->pid = (__u32)id;
	h->cpu = bpf_get_smp_processor_id();
	h->probe = probe;
	bpf_get_current_comm(&h->comm, sizeof(h->comm));
	return h;
}

char LICENSE[] SEC("license") = "GPL";
