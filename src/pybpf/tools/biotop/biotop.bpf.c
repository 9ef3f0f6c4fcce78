// SPDX-License-Identifier: GPL-2.0
/* biotop: block I/O per process, disk and direction, summed in the kernel (count,
 * bytes, latency), from the block raw tracepoints. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_block.bpf.h"
#include "../_blockwho.bpf.h"
#include "biotop.h"

/* issue time, with the request's rq_born: an earlier request's entry is not its */
struct stamp {
	__u64 born;
	__u64 ts;
};

HASH_MAP(start, struct request *, struct stamp, 10240);
HASH_MAP(counts, struct io_key, struct io_val, 10240);

SEC("raw_tp/block_rq_insert")
int rq_insert(struct bpf_raw_tracepoint_args *ctx)
{
	note_who(rq_inserted(ctx));
	return 0;
}

SEC("raw_tp/block_rq_issue")
int rq_issue(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = rq_issued(ctx);
	struct stamp st = {.born = rq_born(rq), .ts = bpf_ktime_get_ns()};

	note_who(rq);
	bpf_map_update_elem(&start, &rq, &st, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int rq_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];    /* (rq, error, nr_bytes) */
	struct stamp *st = bpf_map_lookup_elem(&start, &rq);
	struct io_key key = {};
	struct io_val *v, zero = {};
	struct who *w;

	if (!st || st->born != rq_born(rq))
		goto out;
	w = who_of(rq);
	if (w) {
		key.pid = w->pid;
		__builtin_memcpy(key.comm, w->comm, sizeof(key.comm));
	}
	if (!ids_wanted(key.pid, 0))
		goto out;
	key.dev = rq_dev(rq);
	key.write = (rq_flags(rq) & 0xff) == 1;
	v = lookup_or_init(&counts, &key, &zero);
	if (!v)
		goto out;
	__sync_fetch_and_add(&v->bytes, (__u32)ctx->args[2]);
	__sync_fetch_and_add(&v->us, (bpf_ktime_get_ns() - st->ts) / 1000);
	__sync_fetch_and_add(&v->io, 1);
out:
	bpf_map_delete_elem(&start, &rq);
	bpf_map_delete_elem(&whos, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
