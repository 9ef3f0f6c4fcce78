// SPDX-License-Identifier: GPL-2.0
/* bitesize: block I/O sizes per process name, as in-kernel histograms, counted when
 * the request is issued (block_rq_issue raw tracepoint) and charged to the process that
 * submitted it.  The process current at issue is often another one: with the disk busy,
 * requests wait in a queue and are issued by whoever runs it next (a kworker, another
 * writer's plug flush), so libbpf-tools' bitesize, which takes the current comm there,
 * loses a reader's I/O under load.  A request the driver hands back (a full virtio queue:
 * BLK_STS_RESOURCE, block_rq_requeue) is issued again, often from another task's
 * submission: it is counted once, at its first issue.  libbpf-tools' bitesize counts each
 * issue, to whoever issues it: under CI-like load here 9772 of 24203 issues in 15 s were
 * such re-issues, and a concurrent writer's 512 KiB requests showed under dd's name. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_block.bpf.h"
#include "../_blockwho.bpf.h"
#include "bitesize.h"

const volatile char targ_comm[16] = {};
const volatile bool filter_comm = false;
const volatile __u32 targ_dev = 0;

HASH_MAP(hists, struct comm_key, struct hist, 10240);
/* requests handed back by the driver, counted at their first issue: their next is
 * skipped.  The value is the request's rq_born: a mark left by an earlier request at the
 * same address (one never issued again) is not this one's. */
HASH_MAP(requeued, struct request *, __u64, 10240);

SEC("raw_tp/block_rq_requeue")
int rq_requeue(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = rq_requeued(ctx);
	__u64 born = rq_born(rq);

	/* only a started one was issued (a driver may hand one back before starting it:
	 * SCSI's busy host); the kernel marks it idle after this tracepoint */
	if (BPF_CORE_READ(rq, state) == MQ_RQ_IDLE)
		return 0;
	bpf_map_update_elem(&requeued, &rq, &born, BPF_ANY);
	return 0;
}

/* a new request (6.5+): whatever a request at this address before it left is not its
 * (rq_born tells them apart too, where the kernel stamps requests) */
SEC("raw_tp/block_io_start")
int io_begin(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];

	bpf_map_delete_elem(&requeued, &rq);
	return 0;
}

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
	__u64 *mark, born = rq_born(rq);
	int i;

	/* a re-issue: counted at the first (its entry in whos, if any, is a re-insert's) */
	mark = bpf_map_lookup_elem(&requeued, &rq);
	if (mark) {
		bool again = *mark == born;

		bpf_map_delete_elem(&requeued, &rq);
		if (again)
			goto out;
	}
	if (targ_dev && rq_dev(rq) != targ_dev)
		goto out;
	/* the submitter noted at block_io_start (6.5+) or insert; a request issued straight
	 * from its submitter's context (no scheduler, < 6.5) has neither: current is it.
	 * An entry an earlier request left at this address is not this one's */
	w = who_of(rq);
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
	bpf_map_delete_elem(&whos, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
