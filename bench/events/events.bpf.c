// SPDX-License-Identifier: GPL-2.0
/* Event source for bench/bench_events.py: one 64-byte record per getppid() of the storm
 * process, to a ring buffer (mode 0) or a perf event array (mode 1).  Records that do not
 * fit are counted per CPU in pt_stats, so loss is visible to both consumers. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct pt_rec {
	__u64 seq;        /* per-CPU sequence number */
	__u32 cpu;
	__u32 tgid;
	__u64 ts;
	__u64 pad[5];
};                        /* 64 bytes */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);     /* consumers resize before load */
} pt_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pt_pb SEC(".maps");

/* slot 0: records produced, slot 1: records dropped (buffer full) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pt_stats SEC(".maps");

/* the only .rodata variable, so both consumers find it at offset 0 */
const volatile struct {
	__u32 target_tgid;
	__u32 use_perf;
} pt_cfg = {};

SEC("tracepoint/syscalls/sys_enter_getppid")
int pt_storm(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 k_made = 0, k_drop = 1;
	struct pt_rec rec = {};
	__u64 *made, *drop;
	long err;

	if (tgid != pt_cfg.target_tgid)
		return 0;
	made = bpf_map_lookup_elem(&pt_stats, &k_made);
	drop = bpf_map_lookup_elem(&pt_stats, &k_drop);
	if (!made || !drop)
		return 0;
	rec.seq = (*made)++;
	rec.cpu = bpf_get_smp_processor_id();
	rec.tgid = tgid;
	rec.ts = bpf_ktime_get_ns();
	if (pt_cfg.use_perf)
		err = bpf_perf_event_output(ctx, &pt_pb, BPF_F_CURRENT_CPU, &rec, sizeof(rec));
	else
		err = bpf_ringbuf_output(&pt_rb, &rec, sizeof(rec), 0);
	if (err)
		(*drop)++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
