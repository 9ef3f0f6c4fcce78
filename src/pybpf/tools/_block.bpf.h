/* Reading a struct request for the block tools (biolatency, biosnoop, biotop,
 * bitesize), across kernel versions by CO-RE.  They hook the block raw tracepoints,
 * whose arguments start with the request (since 5.11: see rq_issued()). */
#ifndef PYBPF_TOOLS_BLOCK_BPF_H
#define PYBPF_TOOLS_BLOCK_BPF_H

/* block_rq_issue and block_rq_insert passed (struct request_queue *, struct request *)
 * until 5.11 and only the request since.  The kernel's BTF says which: each tracepoint
 * has a btf_trace_<event> typedef of its prototype (5.5+), and these flavours of the
 * newer ones match only where the request comes first (no typedef at all: older still,
 * the queue first too). */
typedef void (*btf_trace_block_rq_issue___rq)(void *, struct request *);
typedef void (*btf_trace_block_rq_insert___rq)(void *, struct request *);
typedef void (*btf_trace_block_rq_requeue___rq)(void *, struct request *);

static __always_inline struct request *rq_issued(struct bpf_raw_tracepoint_args *ctx)
{
	if (bpf_core_type_matches(btf_trace_block_rq_issue___rq))
		return (struct request *)ctx->args[0];
	return (struct request *)ctx->args[1];
}

static __always_inline struct request *rq_inserted(struct bpf_raw_tracepoint_args *ctx)
{
	if (bpf_core_type_matches(btf_trace_block_rq_insert___rq))
		return (struct request *)ctx->args[0];
	return (struct request *)ctx->args[1];
}

static __always_inline struct request *rq_requeued(struct bpf_raw_tracepoint_args *ctx)
{
	if (bpf_core_type_matches(btf_trace_block_rq_requeue___rq))
		return (struct request *)ctx->args[0];
	return (struct request *)ctx->args[1];
}

#define DISK_NAME_LEN 32

/* before 5.16 a request named its disk directly */
struct request___pre516 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* from 5.16 its queue does (flavors both: this also compiles against older headers) */
struct request_queue___516 {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

struct request___516 {
	struct request_queue___516 *q;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *rq_disk(struct request *rq)
{
	if (bpf_core_field_exists(((struct request___pre516 *)0)->rq_disk))
		return BPF_CORE_READ((struct request___pre516 *)rq, rq_disk);
	return BPF_CORE_READ((struct request___516 *)rq, q, disk);
}

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct gendisk *disk = rq_disk(rq);

	if (!disk)
		return 0;
	return (BPF_CORE_READ(disk, major) << 20) | BPF_CORE_READ(disk, first_minor);
}

/* Flags in a layout of our own (the kernel renumbers its REQ_* bits between versions):
 * bits 0-7 the REQ_OP, then sync, meta, fua, preflush, read-ahead. */
#define PF_SYNC (1 << 8)
#define PF_META (1 << 9)
#define PF_FUA (1 << 10)
#define PF_PREFLUSH (1 << 11)
#define PF_RAHEAD (1 << 12)

static __always_inline __u32 rq_flags(struct request *rq)
{
	__u32 f = BPF_CORE_READ(rq, cmd_flags), out = f & 0xff;

	if (f & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_SYNC)))
		out |= PF_SYNC;
	if (f & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_META)))
		out |= PF_META;
	if (f & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_FUA)))
		out |= PF_FUA;
	if (f & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_PREFLUSH)))
		out |= PF_PREFLUSH;
	if (f & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_RAHEAD)))
		out |= PF_RAHEAD;
	return out;
}

#endif
