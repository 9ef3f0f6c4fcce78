// SPDX-License-Identifier: GPL-2.0
/* task_iter: every task of the system with its kernel stack, one record per task. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "task_iter.h"

char LICENSE[] SEC("license") = "GPL";

static struct task_info t;    /* too big for the 512-byte BPF stack */

SEC("iter/task")
int get_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)               /* the end of the walk */
		return 0;
	t.pid = task->tgid;
	t.tid = task->pid;
	t.state = task->__state;
	bpf_probe_read_kernel_str(t.comm, TASK_COMM_LEN, task->comm);
	t.kstack_len = bpf_get_task_stack(task, t.kstack, sizeof(t.kstack), 0);
	bpf_seq_write(seq, &t, sizeof(t));
	return 0;
}
