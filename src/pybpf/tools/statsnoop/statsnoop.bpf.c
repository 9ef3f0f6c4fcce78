// SPDX-License-Identifier: GPL-2.0
/* statsnoop: the stat() family (statfs, stat, lstat, fstatat, statx) from syscall
 * tracepoints; the path is read at exit, when the kernel has faulted it in. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "statsnoop.h"

const volatile bool failed_only = false;

struct call {
	const char *path;
	__u32 type;
};

HASH_MAP(start, __u32, struct call, 10240);
RINGBUF_MAP(events, 512 * 1024);

static __always_inline int enter(const char *path, __u32 type)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call c = {.path = path, .type = type};

	if (!current_wanted())
		return 0;
	bpf_map_update_elem(&start, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct call *c = bpf_map_lookup_elem(&start, &tid);
	struct event *e;

	if (!c)
		return 0;
	if (failed_only && ret >= 0)
		goto out;
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		goto out;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->ret = ret;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	e->type = c->type;
	if (bpf_probe_read_user_str(e->pathname, sizeof(e->pathname), c->path) < 0)
		e->pathname[0] = '\0';
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

#define STAT_ENTER(call, arg, type)                                                 \
SEC("tracepoint/syscalls/sys_enter_" #call)                                     \
int enter_##call(struct trace_event_raw_sys_enter *ctx)                         \
{                                                                               \
	return enter((const char *)ctx->args[arg], type);                         \
}

STAT_ENTER(statfs, 0, SYS_STATFS)
STAT_ENTER(newstat, 0, SYS_NEWSTAT)
STAT_ENTER(newlstat, 0, SYS_NEWLSTAT)
STAT_ENTER(newfstatat, 1, SYS_NEWFSTATAT)
STAT_ENTER(statx, 1, SYS_STATX)

/* Every stat call ends alike (the type was kept at entry): one program, which the front
 * also attaches to the other four exit tracepoints (a start verifies 6 programs, not 10). */
SEC("tracepoint/syscalls/sys_exit_statx")
int exit_stat(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
