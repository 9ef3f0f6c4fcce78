/* Who submitted a block request (biosnoop, biotop, bitesize): the process current when
 * the request is accounted (block_io_start, 6.5+), else when it is inserted or issued,
 * whichever comes first, kept per request until its completion.
 *
 * Before 6.5 there is no block_io_start.  A request issued without being inserted is
 * issued by its submitter (blk_mq_submit_bio's direct issue, or a plug flush by the task
 * that owns the plug), and one that waits in a queue is inserted by its submitter.  The
 * entry is keyed by the request's address, and the kernel reuses that address for a
 * later request.  An entry whose request never reached block_rq_complete would then be
 * taken for the later request's.  That happens to requests in flight while the tool
 * attaches (issued once rq_issue is attached, completed before rq_complete is).  Attached
 * in two steps around a dd run, the old code charged none of the next dd's 20 reads to
 * it (6.18 without block_io_start; on 6.1 it failed too), and CI's 6.1 guest, slow to
 * start the tool, charged 16 of 20 elsewhere.  Requests merged away in a scheduler leave entries too, as they are freed
 * without completing.
 * So each entry also records the request's start_time_ns (set when the kernel allocates
 * the request: a new value for each request, where iostats or a scheduler need it, as
 * they do by default).  An entry with a different value is an earlier request's. */
#ifndef PYBPF_TOOLS_BLOCKWHO_BPF_H
#define PYBPF_TOOLS_BLOCKWHO_BPF_H

struct who {
	__u64 born;         /* the request's start_time_ns when noted */
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

HASH_MAP(whos, struct request *, struct who, 10240);

/* When the request at this address was allocated.  0 means unknown: the kernel keeps no
 * time stamps (iostats off and no scheduler), and requests cannot be told apart. */
static __always_inline __u64 rq_born(struct request *rq)
{
	return BPF_CORE_READ(rq, start_time_ns);
}

/* The entry noted for this very request, or NULL (none, or an earlier request's). */
static __always_inline struct who *who_of(struct request *rq)
{
	struct who *w = bpf_map_lookup_elem(&whos, &rq);

	if (w && w->born != rq_born(rq))
		return NULL;
	return w;
}

static __always_inline void note_who_as(struct request *rq)
{
	struct who w = {};

	w.born = rq_born(rq);
	w.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&w.comm, sizeof(w.comm));
	bpf_map_update_elem(&whos, &rq, &w, BPF_ANY);
}

/* Inserted or issued: the first of these names the submitter, unless block_io_start
 * (6.5+) already did.  An earlier request's entry is replaced. */
static __always_inline void note_who(struct request *rq)
{
	if (!who_of(rq))
		note_who_as(rq);
}

/* block_io_start begins a request's life: it replaces whatever an earlier request at the
 * same address left. */
SEC("raw_tp/block_io_start")
int io_start(struct bpf_raw_tracepoint_args *ctx)
{
	note_who_as((struct request *)ctx->args[0]);
	return 0;
}

#endif
