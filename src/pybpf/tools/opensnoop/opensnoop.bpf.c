// SPDX-License-Identifier: GPL-2.0
/* opensnoop: open(), openat() and openat2() from the syscalls tracepoints; the path is
 * read at syscall exit, when the kernel has already faulted it in. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "opensnoop.h"

#define AT_FDCWD -100

const volatile __u32 targ_uid = (__u32)-1;
const volatile bool failed_only = false;
const volatile bool filter_flags = false;
const volatile __u32 targ_flags = 0;     /* any of these flags set */
const volatile bool targ_rdonly = false; /* or an O_RDONLY open */

struct args {
	const char *fname;
	__s32 dirfd;
	__u32 flags;
	__u32 mode;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

static __always_inline int enter(const char *fname, int dirfd, __u32 flags, __u32 mode)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct args a = {.fname = fname, .dirfd = dirfd, .flags = flags, .mode = mode};

	if (!current_wanted())
		return 0;
	if (targ_uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	if (filter_flags && !(flags & targ_flags) && !(targ_rdonly && (flags & 3) == 0))
		return 0;
	if (bpf_map_update_elem(&start, &tid, &a, BPF_ANY))
		count_drop();
	return 0;
}

static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args *a = bpf_map_lookup_elem(&start, &tid);
	struct event *e;

	if (!a)
		return 0;
	if (failed_only && ret >= 0)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop();
		goto out;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->dirfd = a->dirfd;
	e->flags = a->flags;
	e->mode = a->mode;
	e->pad = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
		e->fname[0] = '\0';
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tp_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[0], AT_FDCWD, ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tp_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], ctx->args[0], ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tp_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tp_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return enter((const char *)ctx->args[1], ctx->args[0], how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tp_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
