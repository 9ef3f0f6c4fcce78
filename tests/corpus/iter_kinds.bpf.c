// SPDX-License-Identifier: GPL-2.0
/* More iterators: bpf_map, task_file, sleepable task_vma reading user memory. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("iter/bpf_map")
int dump_maps(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;

	if (!map)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%u %s\n", map->id, map->name);
	return 0;
}

SEC("iter/task_file")
int dump_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *f = ctx->file;

	if (!f || !task)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%d %d %lu\n", task->pid, ctx->fd, f->f_inode->i_ino);
	return 0;
}

SEC("iter.s/task_vma")
int dump_vmas(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct task_struct *task = ctx->task;
	__u64 word = 0;

	if (!vma || !task)
		return 0;
	bpf_copy_from_user_task(&word, sizeof(word), (void *)vma->vm_start, task, 0);
	bpf_seq_write(ctx->meta->seq, &word, sizeof(word));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
