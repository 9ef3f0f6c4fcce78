// SPDX-License-Identifier: GPL-2.0
/* biosnoop: one event per block I/O with its issuing process, disk, size and latency,
 * from the block raw tracepoints.  The process is the one current when the request is
 * accounted (block_io_start, 6.5+) or inserted/issued, whichever is seen first. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_block.bpf.h"
#include "../_blockwho.bpf.h"
#include "biosnoop.h"

const volatile bool targ_queued = false;
const volatile __u32 targ_dev = 0;
const volatile bool targ_pattern = false;   /* -P */

struct stamps {
	__u64 born;         /* the request's (rq_born): an earlier request's are not its */
	__u64 insert;
	__u64 issue;
	__u64 sector;
};

HASH_MAP(start, struct request *, struct stamps, 10240);
/* -P: where each disk's last completed I/O ended (sector), to call the next one
 * sequential (it starts there) or random (bcc's pattern) */
HASH_MAP(last_sectors, __u32, __u64, 1024);
RINGBUF_MAP(events, 1024 * 1024);

static __always_inline void stamp(struct request *rq, bool issue)
{
	struct stamps *s = bpf_map_lookup_elem(&start, &rq), st = {};
	__u64 now = bpf_ktime_get_ns(), born = rq_born(rq);

	if (targ_dev && rq_dev(rq) != targ_dev)
		return;
	note_who(rq);
	if (s && s->born != born)
		s = NULL;  /* left by an earlier request at this address (see _blockwho.bpf.h) */
	if (!s) {
		if (issue && targ_queued) {
			/* inserted before we started: no queue time to report */
			bpf_map_delete_elem(&start, &rq);
			return;
		}
		st.born = born;
		s = &st;
	}
	if (issue) {
		s->issue = now;
		s->sector = BPF_CORE_READ(rq, __sector);
	} else {
		s->insert = now;
	}
	if (s == &st)
		bpf_map_update_elem(&start, &rq, s, BPF_ANY);
}

SEC("raw_tp/block_rq_insert")
int rq_insert(struct bpf_raw_tracepoint_args *ctx)
{
	if (targ_queued)
		stamp(rq_inserted(ctx), false);
	else
		note_who(rq_inserted(ctx));
	return 0;
}

SEC("raw_tp/block_rq_issue")
int rq_issue(struct bpf_raw_tracepoint_args *ctx)
{
	stamp(rq_issued(ctx), true);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int rq_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	struct stamps *s = bpf_map_lookup_elem(&start, &rq);
	struct who *w;
	struct event *e;

	if (!s || !s->issue || s->born != rq_born(rq))
		goto out;
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		goto out;
	e->ts_ns = bpf_ktime_get_ns();
	e->delta_ns = e->ts_ns - s->issue;
	e->qdelta_ns = s->insert ? s->issue - s->insert : 0;
	e->sector = s->sector;
	e->len = ctx->args[2];
	e->dev = rq_dev(rq);
	e->flags = rq_flags(rq);
	w = who_of(rq);
	if (w) {
		e->pid = w->pid;
		__builtin_memcpy(e->comm, w->comm, sizeof(e->comm));
	} else {
		e->pid = 0;
		__builtin_memset(e->comm, 0, sizeof(e->comm));
	}
	e->pattern = 0;
	if (targ_pattern) {
		/* the key from the stack: 5.10's verifier takes no ring buffer
		 * record as a map key ("R2 type=mem expected=fp, ...") */
		__u32 dev = e->dev;
		__u64 *last = bpf_map_lookup_elem(&last_sectors, &dev), end;

		if (last)
			e->pattern = *last == e->sector ? 1 : 2;
		end = e->sector + e->len / 512;
		bpf_map_update_elem(&last_sectors, &dev, &end, BPF_ANY);
	}
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &rq);
	bpf_map_delete_elem(&whos, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
