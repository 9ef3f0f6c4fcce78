// SPDX-License-Identifier: GPL-2.0
/* Callback subprograms: bpf_loop, bpf_for_each_map_elem and bpf_find_vma. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} sizes SEC(".maps");

struct sum_ctx {
	__u64 total;
	__u32 visited;
};

__u64 loop_total, map_total, vma_flags;

static int add_index(__u32 i, struct sum_ctx *c)
{
	c->total += i;
	return i >= 9;
}

static long add_elem(struct bpf_map *map, __u32 *key, __u64 *val, struct sum_ctx *c)
{
	c->total += *val;
	c->visited++;
	return 0;
}

static long on_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	vma_flags = vma->vm_flags;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_brk")
int walk(void *ctx)
{
	struct sum_ctx c = {};

	bpf_loop(16, add_index, &c, 0);
	loop_total = c.total;
	c.total = 0;
	bpf_for_each_map_elem(&sizes, add_elem, &c, 0);
	map_total = c.total;
	return 0;
}

SEC("tp_btf/sys_enter")
int find(u64 *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();

	bpf_find_vma(task, ctx[1], on_vma, 0, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
