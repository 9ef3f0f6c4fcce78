// SPDX-License-Identifier: GPL-2.0
/* funccount: count calls of user functions (uprobes), USDT probes (uprobes at their
 * sites), tracepoints or kernel functions (kprobes, where the kernel has them).  One
 * program per family, attached once per probe with the probe's index as its cookie. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "funccount.h"

PERCPU_ARRAY_MAP(counts, __u64, MAX_PROBES);

static __always_inline int count(void *ctx)
{
	__u32 idx = bpf_get_attach_cookie(ctx);
	__u64 *n;

	if (!current_wanted())
		return 0;
	n = bpf_map_lookup_elem(&counts, &idx);
	if (n)
		*n += 1;
	return 0;
}

PROBE_PROGRAMS(count)

char LICENSE[] SEC("license") = "GPL";
