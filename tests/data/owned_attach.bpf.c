// SPDX-License-Identifier: GPL-2.0
/* Programs attached by hand and by obj.attach() (tests/test_object_attach.py). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

__u64 entries, returns, last_ret, tasks, tp_hits;
__s64 tick_sum, guarded_sum, auto_tick_sum;
__u32 my_pid;

SEC("uprobe")
int BPF_KPROBE(on_entry, int x)
{
	entries++;
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_return, int ret)
{
	returns++;
	last_ret = ret;
	return 0;
}

SEC("usdt")
int BPF_USDT(on_tick, int i, long sum)
{
	tick_sum += sum;
	return 0;
}

SEC("usdt")
int BPF_USDT(on_guarded, int i)
{
	guarded_sum += i + 1000 * bpf_usdt_cookie(ctx);
	return 0;
}

SEC("usdt/" TARGET ":pybpf_test:tick")
int BPF_USDT(auto_tick, int i, long sum)
{
	auto_tick_sum += sum;
	return 0;
}

SEC("iter/task")
int count_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (task && task->tgid == my_pid && task->pid == my_pid) {
		__u32 pid = task->pid;
		bpf_seq_write(ctx->meta->seq, &pid, sizeof(pid));
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == my_pid)
		tp_hits++;
	return 0;
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
