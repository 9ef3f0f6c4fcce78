// SPDX-License-Identifier: GPL-2.0
/* bitesize: block I/O sizes per process name, as in-kernel histograms, counted when
 * the request is issued (block_rq_issue raw tracepoint) and charged to the process that
 * submitted it.  The process current at issue is often another one: with the disk busy,
 * requests wait in a queue and are issued by whoever runs it next (a kworker, another
 * writer's plug flush), so libbpf-tools' bitesize, which takes the current comm there,
 * loses a reader's I/O under load. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_block.bpf.h"
#include "../_blockwho.bpf.h"
#include "bitesize.h"

const volatile char targ_comm[16] = {};
const volatile bool filter_comm = false;
const volatile __u32 targ_dev = 0;

HASH_MAP(hists, struct comm_key, struct hist, 10240);

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
	struct comm_key key = {};
	struct who *w;
	int i;

	if (targ_dev && rq_dev(rq) != targ_dev)
		goto out;
	/* the submitter noted at block_io_start (6.5+) or insert; a request issued straight
	 * from its submitter's context (no scheduler, < 6.5) has neither: current is it */
	w = bpf_map_lookup_elem(&whos, &rq);
	if (w)
		__builtin_memcpy(key.comm, w->comm, sizeof(key.comm));
	else
		bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (filter_comm) {
		for (i = 0; i < 16; i++) {
			if (key.comm[i] != targ_comm[i])
				goto out;
			if (!key.comm[i])
				break;
		}
	}
	/* -p by the submitter too; a cgroup (--cgroupmap) is still the issuer's */
	if (w ? !(ids_wanted(w->pid, 0) && current_in_groups()) : !current_wanted())
		goto out;
	hist_add(&hists, &key, BPF_CORE_READ(rq, __data_len) / 1024);
out:
	/* counted once per issue: a request requeued and issued again is charged again,
	 * to whoever issues it then (as libbpf-tools' bitesize does) */
	bpf_map_delete_elem(&whos, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
