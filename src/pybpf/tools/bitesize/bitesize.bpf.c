// SPDX-License-Identifier: GPL-2.0
/* bitesize: block I/O sizes per process name, as in-kernel histograms, counted when
 * the request is issued (block_rq_issue raw tracepoint). */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_block.bpf.h"
#include "bitesize.h"

const volatile char targ_comm[16] = {};
const volatile bool filter_comm = false;
const volatile __u32 targ_dev = 0;

HASH_MAP(hists, struct comm_key, struct hist, 10240);

SEC("raw_tp/block_rq_issue")
int rq_issue(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = rq_issued(ctx);
	struct comm_key key = {};
	int i;

	if (targ_dev && rq_dev(rq) != targ_dev)
		return 0;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (filter_comm) {
		for (i = 0; i < 16; i++) {
			if (key.comm[i] != targ_comm[i])
				return 0;
			if (!key.comm[i])
				break;
		}
	}
	if (!current_wanted())
		return 0;
	hist_add(&hists, &key, BPF_CORE_READ(rq, __data_len) / 1024);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
