// SPDX-License-Identifier: GPL-2.0
/* task_iter: every task of the system with its kernel stack, one record per task. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "task_iter.h"

char LICENSE[] SEC("license") = "GPL";

static struct task_info t;    /* too big for the 512-byte BPF stack */

/* The task's state is __state since 5.14 and state before: a flavor of each, so the one
 * object (and the source, against either kernel's vmlinux.h) serves both. */
struct task_struct___514 {
	unsigned int __state;
} __attribute__((preserve_access_index));

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

SEC("iter/task")
int get_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)               /* the end of the walk */
		return 0;
	t.pid = task->tgid;
	t.tid = task->pid;
	if (bpf_core_field_exists(((struct task_struct___514 *)task)->__state))
		t.state = ((struct task_struct___514 *)task)->__state;
	else
		t.state = ((struct task_struct___pre514 *)task)->state;
	bpf_probe_read_kernel_str(t.comm, TASK_COMM_LEN, task->comm);
	t.kstack_len = bpf_get_task_stack(task, t.kstack, sizeof(t.kstack), 0);
	bpf_seq_write(seq, &t, sizeof(t));
	return 0;
}
