// SPDX-License-Identifier: GPL-2.0
/* Block I/O latency per disk and operation, issue to completion, in microseconds. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf_exporter.h"

#define MAX_BUCKET 26

enum { BIO_READ, BIO_WRITE, BIO_FLUSH, BIO_DISCARD, BIO_OTHER };

struct rq_id {
	__u32 dev;
	__u32 pad;
	__u64 sector;
};

struct lat_key {
	__u32 dev;
	__u32 op;
	__u64 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct rq_id);
	__type(value, __u64);
} issued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct lat_key);
	__type(value, __u64);
} bio_latency SEC(".maps");

/* the kernel's dev_t (major << 20 | minor) as user space encodes it (glibc's makedev),
 * which the majorminor decoder reads, as in ebpf_exporter */
static __always_inline __u32 user_dev(__u32 dev)
{
	__u32 major = dev >> 20, minor = dev & 0xfffff;

	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

SEC("tracepoint/block/block_rq_issue")
int rq_issue(struct trace_event_raw_block_rq *ctx)
{
	struct rq_id id = { .dev = ctx->dev, .sector = ctx->sector };
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&issued, &id, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int rq_complete(struct trace_event_raw_block_rq_completion *ctx)
{
	struct rq_id id = { .dev = ctx->dev, .sector = ctx->sector };
	__u64 *ts = bpf_map_lookup_elem(&issued, &id);
	struct lat_key key = { .dev = user_dev(ctx->dev) };
	char c = ctx->rwbs[0];
	__u64 us;

	if (!ts)
		return 0;
	us = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&issued, &id);
	if (c == 'F')         /* "FWS": a flush, maybe with data */
		key.op = BIO_FLUSH;
	else if (c == 'R')
		key.op = BIO_READ;
	else if (c == 'W')
		key.op = BIO_WRITE;
	else if (c == 'D')
		key.op = BIO_DISCARD;
	else
		key.op = BIO_OTHER;
	observe_exp2(&bio_latency, &key, us, MAX_BUCKET);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
