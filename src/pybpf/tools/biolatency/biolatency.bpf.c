// SPDX-License-Identifier: GPL-2.0
/* biolatency: block I/O latency (issue, or insert with -Q, to completion) as in-kernel
 * histograms, per disk or per flags; block raw tracepoints (no kprobes). */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_extsum.bpf.h"
#include "../_block.bpf.h"
#include "biolatency.h"

const volatile bool targ_queued = false;
const volatile bool targ_per_disk = false;
const volatile bool targ_per_flag = false;
const volatile bool targ_ms = false;
const volatile __u32 targ_dev = 0;

HASH_MAP(start, struct request *, __u64, 10240);
HASH_MAP(hists, __u32, struct hist, 1024);

static __always_inline void mark(struct request *rq, bool issue)
{
	__u64 ts = bpf_ktime_get_ns();

	if (targ_dev && rq_dev(rq) != targ_dev)
		return;
	/* with -Q the clock starts at insert and issue leaves it running */
	bpf_map_update_elem(&start, &rq, &ts, issue && targ_queued ? BPF_NOEXIST : BPF_ANY);
}

SEC("raw_tp/block_rq_insert")
int rq_insert(struct bpf_raw_tracepoint_args *ctx)
{
	if (targ_queued)
		mark(rq_inserted(ctx), false);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int rq_issue(struct bpf_raw_tracepoint_args *ctx)
{
	mark(rq_issued(ctx), true);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int rq_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	__u64 *ts = bpf_map_lookup_elem(&start, &rq), delta;
	__u32 key = 0;

	if (!ts)
		return 0;
	delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&start, &rq);
	delta /= targ_ms ? 1000000 : 1000;
	if (targ_per_disk)
		key = rq_dev(rq);
	else if (targ_per_flag)
		key = rq_flags(rq);
	hist_add(&hists, &key, delta);
	ext_add(delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
