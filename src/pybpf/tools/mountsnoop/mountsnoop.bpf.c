// SPDX-License-Identifier: GPL-2.0
/* mountsnoop: mount() and umount() with their arguments and results, from the syscall
 * tracepoints (strings read at exit, once the kernel has copied them). */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "mountsnoop.h"

HASH_MAP(start, __u32, struct args, 1024);
RINGBUF_MAP(events, 256 * 1024);

static __always_inline int enter(struct args *a)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!current_wanted())
		return 0;
	bpf_map_update_elem(&start, &tid, a, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args *a = bpf_map_lookup_elem(&start, &tid);
	struct task_struct *task;
	struct event *e;

	if (!a)
		return 0;
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		goto out;
	task = (struct task_struct *)bpf_get_current_task();
	e->ts_ns = bpf_ktime_get_ns();
	e->flags = a->flags;
	e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->pid = id >> 32;
	e->tid = tid;
	e->ret = ret;
	e->op = a->op;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);
	e->src[0] = e->dest[0] = e->fs[0] = e->data[0] = '\0';
	if (a->src)
		bpf_probe_read_user_str(e->src, sizeof(e->src), a->src);
	if (a->dest)
		bpf_probe_read_user_str(e->dest, sizeof(e->dest), a->dest);
	if (a->fs)
		bpf_probe_read_user_str(e->fs, sizeof(e->fs), a->fs);
	if (a->data)
		bpf_probe_read_user_str(e->data, sizeof(e->data), a->data);
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mount")
int enter_mount(struct trace_event_raw_sys_enter *ctx)
{
	struct args a = {
		.src = (const char *)ctx->args[0], .dest = (const char *)ctx->args[1],
		.fs = (const char *)ctx->args[2], .flags = ctx->args[3],
		.data = (const char *)ctx->args[4], .op = OP_MOUNT,
	};

	return enter(&a);
}

SEC("tracepoint/syscalls/sys_enter_umount")
int enter_umount(struct trace_event_raw_sys_enter *ctx)
{
	struct args a = {.dest = (const char *)ctx->args[0], .flags = ctx->args[1],
			 .op = OP_UMOUNT};

	return enter(&a);
}

/* mount() and umount() end alike: one program, which the front also attaches to
 * sys_exit_mount (a start verifies 3 programs, not 4). */
SEC("tracepoint/syscalls/sys_exit_umount")
int tp_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
