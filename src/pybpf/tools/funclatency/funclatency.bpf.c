// SPDX-License-Identifier: GPL-2.0
/* funclatency: time from a function's entry to its return, as in-kernel histograms:
 * user functions by uprobe + uretprobe, kernel functions by kprobe + kretprobe (where
 * the kernel has them), each probe's index as its cookie; many user functions in two
 * uprobe_multi links where the kernel has them. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "funclatency.h"

const volatile bool per_function = false;
const volatile __u32 unit_div = 1;
/* -l: time the outermost max_level levels of nested or recursive calls only (the depth
 * is still counted beyond, so every return pairs with its own entry) */
const volatile __u32 max_level = MAX_DEPTH;

struct entry {
	__u64 ts[MAX_DEPTH];
	__u32 depth;
};

HASH_MAP(start, __u32, struct entry, 10240);
HASH_MAP(hists, __u32, struct hist, 1024);
PERCPU_ARRAY_MAP(totals, __u64, 2);

static const struct entry zero_entry = {};

static __always_inline int enter(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct entry *e;
	__u32 d;

	if (!current_wanted())
		return 0;
	e = lookup_or_init(&start, &tid, &zero_entry);
	if (!e)
		return 0;
	/* recursion: a stack of entry times per thread */
	d = e->depth;
	if (d < MAX_DEPTH && d < max_level) {
		/* clang folds the two comparisons into one the verifier cannot follow: hide
		 * d's range from clang so the mask (MAX_DEPTH is a power of two) stays */
		asm volatile("" : "+r"(d));
		e->ts[d & (MAX_DEPTH - 1)] = bpf_ktime_get_ns();
	}
	e->depth = d + 1;
	return 0;
}

static __always_inline int leave(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), key = 0, i;
	struct entry *e = bpf_map_lookup_elem(&start, &tid);
	__u64 delta, *n;
	__u32 d;

	if (!e || !e->depth)
		return 0;
	d = --e->depth;
	if (d >= MAX_DEPTH || d >= max_level)
		return 0;
	asm volatile("" : "+r"(d));    /* as in enter() */
	delta = bpf_ktime_get_ns() - e->ts[d & (MAX_DEPTH - 1)];
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

SEC("uprobe")
int func_entry(struct pt_regs *ctx)
{
	return enter();
}

SEC("uretprobe")
int func_return(struct pt_regs *ctx)
{
	return leave(ctx);
}

/* many functions: each half in one uprobe_multi link (6.6+) */
SEC("uprobe.multi")
int func_entry_multi(struct pt_regs *ctx)
{
	return enter();
}

SEC("uretprobe.multi")
int func_return_multi(struct pt_regs *ctx)
{
	return leave(ctx);
}

SEC("kprobe")
int kfunc_entry(struct pt_regs *ctx)
{
	return enter();
}

SEC("kretprobe")
int kfunc_return(struct pt_regs *ctx)
{
	return leave(ctx);
}

char LICENSE[] SEC("license") = "GPL";
