// SPDX-License-Identifier: GPL-2.0
/* biotop: block I/O per process, disk and direction, summed in the kernel (count,
 * bytes, latency), from the block raw tracepoints. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_block.bpf.h"
#include "biotop.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request *);
	__type(value, struct who);
} whos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request *);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct io_key);
	__type(value, struct io_val);
} counts SEC(".maps");

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

SEC("raw_tp/block_rq_insert")
int rq_insert(struct bpf_raw_tracepoint_args *ctx)
{
	note_who((struct request *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int rq_issue(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	__u64 ts = bpf_ktime_get_ns();

	note_who(rq);
	bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int rq_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	__u64 *ts = bpf_map_lookup_elem(&start, &rq);
	struct io_key key = {};
	struct io_val *v, zero = {};
	struct who *w;

	if (!ts)
		goto out;
	w = bpf_map_lookup_elem(&whos, &rq);
	if (w) {
		key.pid = w->pid;
		__builtin_memcpy(key.comm, w->comm, sizeof(key.comm));
	}
	if (!ids_wanted(key.pid, 0))
		goto out;
	key.dev = rq_dev(rq);
	key.write = (rq_flags(rq) & 0xff) == 1;
	v = bpf_map_lookup_elem(&counts, &key);
	if (!v) {
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v) {
			count_drop();
			goto out;
		}
	}
	__sync_fetch_and_add(&v->bytes, (__u32)ctx->args[2]);
	__sync_fetch_and_add(&v->us, (bpf_ktime_get_ns() - *ts) / 1000);
	__sync_fetch_and_add(&v->io, 1);
out:
	bpf_map_delete_elem(&start, &rq);
	bpf_map_delete_elem(&whos, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
