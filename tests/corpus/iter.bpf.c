// SPDX-License-Identifier: GPL-2.0
/* task iterator with a .rodata.str1.1 format string and a custom .data section. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

int lines SEC(".data.counters") = 5;

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%d %s\n", task->pid, task->comm);
	lines++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
