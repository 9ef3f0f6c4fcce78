// SPDX-License-Identifier: GPL-2.0
/* Block I/O latency per disk and operation, issue to completion, in microseconds. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
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

/* block_rq_complete's record is trace_event_raw_block_rq_completion since the event
 * shared a class with block_rq_error (5.15); before, it was
 * trace_event_raw_block_rq_complete.  The fields read kept their names: a flavour of
 * each, CO-RE picks the kernel's, and helper reads keep clang from merging the two
 * into one load at a computed context offset (which the verifier refuses). */
#define COMPLETION_FIELDS dev_t dev; sector_t sector; char rwbs[8];

struct trace_event_raw_block_rq_completion___cls {
	COMPLETION_FIELDS
} __attribute__((preserve_access_index));

struct trace_event_raw_block_rq_complete___own {
	COMPLETION_FIELDS
} __attribute__((preserve_access_index));

#define READ_COMPLETION(c, id, op) do {					\
	bpf_core_read(&(id).dev, sizeof((id).dev), &(c)->dev);			\
	bpf_core_read(&(id).sector, sizeof((id).sector), &(c)->sector);		\
	bpf_core_read(&(op), 1, &(c)->rwbs[0]);					\
} while (0)

SEC("tracepoint/block/block_rq_complete")
int rq_complete(void *ctx)
{
	struct rq_id id = {};
	struct lat_key key = {};
	__u64 *ts, us;
	char c = 0;

	if (bpf_core_type_exists(struct trace_event_raw_block_rq_completion___cls))
		READ_COMPLETION((struct trace_event_raw_block_rq_completion___cls *)ctx, id, c);
	else
		READ_COMPLETION((struct trace_event_raw_block_rq_complete___own *)ctx, id, c);
	ts = bpf_map_lookup_elem(&issued, &id);
	if (!ts)
		return 0;
	us = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&issued, &id);
	key.dev = user_dev(id.dev);
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
