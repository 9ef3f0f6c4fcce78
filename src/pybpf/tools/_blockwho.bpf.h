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

static __always_inline void note_who(struct request *rq)
{
	struct who w = {};

	w.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&w.comm, sizeof(w.comm));
	bpf_map_update_elem(&whos, &rq, &w, BPF_NOEXIST);
}

SEC("raw_tp/block_io_start")
int io_start(struct bpf_raw_tracepoint_args *ctx)
{
	note_who((struct request *)ctx->args[0]);
	return 0;
}

#endif
