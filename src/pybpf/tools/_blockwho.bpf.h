/* Who issued a block request (biosnoop, biotop): the process current when the request
 * is accounted (block_io_start, 6.5+) or inserted/issued, whichever is seen first, kept
 * per request until its completion. */
#ifndef PYBPF_TOOLS_BLOCKWHO_BPF_H
#define PYBPF_TOOLS_BLOCKWHO_BPF_H

struct who {
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

HASH_MAP(whos, struct request *, struct who, 10240);

static __always_inline void note_who_as(struct request *rq, __u64 flags)
{
	struct who w = {};

	w.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&w.comm, sizeof(w.comm));
	bpf_map_update_elem(&whos, &rq, &w, flags);
}

/* Inserted or issued: the first of these keeps its process (block_io_start, where the
 * kernel has it, came first and named the submitter). */
static __always_inline void note_who(struct request *rq)
{
	note_who_as(rq, BPF_NOEXIST);
}

/* block_io_start begins a request's life: it replaces whatever an earlier request at the
 * same address left.  Requests that end without block_rq_complete (a flush with no data
 * ends in blk_mq_end_request alone) leave their entry behind, and the next request
 * allocated there would otherwise be charged to that flush's process (a kworker). */
SEC("raw_tp/block_io_start")
int io_start(struct bpf_raw_tracepoint_args *ctx)
{
	note_who_as((struct request *)ctx->args[0], BPF_ANY);
	return 0;
}

#endif
