// SPDX-License-Identifier: GPL-2.0
/* usdt: CPython's gc__start(generation) probe, through libbpf's usdt.bpf.h. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>
#include "usdt.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

__u64 dropped = 0;

static int report(struct pt_regs *ctx, int generation, bool manual)
{
	struct gc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->generation = generation;
	e->cookie = bpf_usdt_cookie(ctx);
	e->manual = manual;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* auto-attached: every python3.11 process */
SEC("usdt//usr/bin/python3.11:python:gc__start")
int BPF_USDT(gc_start_auto, int generation)
{
	return report(ctx, generation, false);
}

/* attached by hand with a cookie (and maybe a pid) */
SEC("usdt")
int BPF_USDT(gc_start_manual, int generation)
{
	return report(ctx, generation, true);
}
