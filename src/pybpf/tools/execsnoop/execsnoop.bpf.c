// SPDX-License-Identifier: GPL-2.0
/* execsnoop: one event per exec(), with argv, from the syscalls tracepoints only
 * (no kprobes), so it runs on kernels built without CONFIG_KPROBES. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "execsnoop.h"

/* Set from Python before load; .rodata is frozen, so the verifier prunes dead filters
 * (-p/-c/--cgroupmap/--mntnsmap and the drop counter come from ../_common.bpf.h). */
const volatile int max_args = 20;
const volatile __u32 targ_uid = (__u32)-1;
const volatile __u32 targ_ppid = 0;
const volatile bool ignore_failed = true;

/* Exec in flight: filled at syscall entry, sent at exit once the result is known.
 * Task-local storage, not a hash keyed by thread id, for two reasons:
 * - an exec from a non-leader thread returns under another id (the kernel's de_thread
 *   gives the exec'ing thread the leader's pid), so a tid key is never found again at
 *   exit: the exec went unreported and its entry stayed forever;
 * - an entry left by a task that dies inside execve() is freed with the task, so no one
 *   can fill the table with stale entries (a hash's max_entries could be exhausted by
 *   any user in a minute, and then every exec was dropped).
 * Storage is allocated per exec, not preallocated (7.7 KB per in-flight exec). */
struct {
	/* BPF_MAP_TYPE_TASK_STORAGE, by number: older kernels' vmlinux.h lack the name */
	__uint(type, 29);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct event);
} execs SEC(".maps");

/* Before 5.12 tracing programs have neither task storage nor bpf_get_current_task_btf():
 * there the *_hash programs keep the exec in flight in a hash keyed by the tgid, which the
 * exec'ing thread holds at exit too (de_thread gives it the leader's pid, and the tgid
 * is that pid).  An entry left by a task killed inside execve() stays until that tgid
 * execs again; past max_entries an exec is counted as dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} execs_hash SEC(".maps");

/* a zeroed event to create hash entries from (an update copies a value, and 7.7 KB do not
 * fit on the stack); never written */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} empty_event SEC(".maps");

RINGBUF_MAP(events, 2 * 1024 * 1024);

/* The entry for this exec, made empty: task storage, or with by_tgid the hash (a constant
 * in each program, so each one references only its own map and helpers). */
static __always_inline struct event *new_entry(bool by_tgid, struct task_struct *task,
					       __u32 tgid)
{
	if (by_tgid) {
		__u32 zero = 0;
		struct event *empty = bpf_map_lookup_elem(&empty_event, &zero);

		if (!empty || bpf_map_update_elem(&execs_hash, &tgid, empty, BPF_ANY))
			return NULL;
		return bpf_map_lookup_elem(&execs_hash, &tgid);
	}
	return bpf_task_storage_get(&execs, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

static __always_inline struct task_struct *current_task(bool by_tgid)
{
	if (by_tgid)
		return (struct task_struct *)bpf_get_current_task();
	return bpf_get_current_task_btf();
}

static __always_inline int enter(const char *filename, const char *const *argv,
				 bool by_tgid)
{
	struct task_struct *task = current_task(by_tgid);
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;
	const char *arg;
	__u32 off;
	long n;
	int i;

	if (targ_uid != (__u32)-1 && uid != targ_uid)
		return 0;
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	if (targ_ppid && ppid != targ_ppid)
		return 0;
	if (!current_in_groups())
		return 0;

	e = new_entry(by_tgid, task, pid);
	if (!e) {
		/* no memory, or this CPU's task-storage busy counter is held (creation then
		 * fails; lookups at exit still work, so every entry made is found again), or
		 * the hash is full */
		count_drop();
		return 0;
	}
	e->truncated = 0;
	e->missed = 0;
	e->pid = pid;
	e->ppid = ppid;
	e->uid = uid;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));

	n = bpf_probe_read_user_str(e->args, ARGSIZE, filename);
	if (n <= 0) {
		/* unreadable filename (e.g. a page not yet faulted in): keep an empty string */
		e->args[0] = '\0';
		e->missed = 1;
		n = 1;
	}
	e->args_size = n;
	e->args_count = 1;

	/* argv[0] is replaced by the filename, as bcc's execsnoop shows it */
	for (i = 1; i < TOTAL_MAX_ARGS && i < max_args; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return 0;
		off = e->args_size;
		if (off > ARGS_BUF - ARGSIZE)
			return 0;
		n = bpf_probe_read_user_str(&e->args[off], ARGSIZE, arg);
		if (n <= 0) {
			/* not resident yet: keep its place; a successful exec re-reads it */
			e->args[off] = '\0';
			e->missed = 1;
			n = 1;
		}
		e->args_size += n;
		e->args_count++;
	}
	/* more arguments than asked for: mark the cut */
	if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
		return 0;
	e->truncated = 1;
	return 0;
}

/* After a successful exec the new image's argv strings and the exec'd file name sit on
 * its fresh stack, resident: read them again there.  At syscall entry they can live in
 * file pages the caller never touched (a string literal after fork), which a probe in
 * this context cannot fault in. */
static __always_inline void reread_args(struct event *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
	unsigned long env_end = BPF_CORE_READ(mm, env_end);
	long n0, l0;
	unsigned long rest;

	n0 = bpf_probe_read_user_str(e->args, ARGSIZE, (void *)env_end);
	if (n0 <= 0 || n0 > ARGSIZE)
		return;
	/* argv[0]'s length, read into the space that argv[1..] overwrites next */
	l0 = bpf_probe_read_user_str(&e->args[ARGSIZE], ARGSIZE, (void *)arg_start);
	if (l0 <= 0 || arg_end <= arg_start + l0)
		rest = 0;
	else
		rest = arg_end - arg_start - l0;
	if (rest > ARGS_BUF - ARGSIZE)
		rest = ARGS_BUF - ARGSIZE;
	if (rest && bpf_probe_read_user(&e->args[n0], rest, (void *)(arg_start + l0)))
		return;
	e->args_size = n0 + rest;
}

static __always_inline int leave(long ret, bool by_tgid)
{
	struct task_struct *task = current_task(by_tgid);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct event *e = by_tgid ? bpf_map_lookup_elem(&execs_hash, &tgid)
				  : bpf_task_storage_get(&execs, task, 0, 0);
	__u32 size;

	/* pid 0: no exec of ours in flight (an entry whose delete failed, see below) */
	if (!e || !e->pid)
		return 0;
	if (ignore_failed && ret < 0)
		goto out;
	e->retval = ret;
	e->ts_ns = bpf_ktime_get_ns();
	if (ret == 0 && e->missed)
		reread_args(e);
	/* after a successful exec, comm is the new program's name */
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);
	e->cpu = bpf_get_smp_processor_id();
	size = sizeof(*e) - ARGS_BUF + e->args_size;
	if (size <= sizeof(*e) && bpf_ringbuf_output(&events, e, size, 0))
		count_drop();
out:
	/* The delete fails (-EBUSY) while another task-storage user holds this CPU's busy
	 * counter; the entry then lives on until the task's next exec or its exit, marked
	 * done so a later exec that the filters skip is not reported with its data. */
	e->pid = 0;
	if (by_tgid)
		bpf_map_delete_elem(&execs_hash, &tgid);
	else
		bpf_task_storage_delete(&execs, task);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int tp_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[0], (const char *const *)ctx->args[1], false);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tp_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], (const char *const *)ctx->args[2], false);
}

/* execve() and execveat() end alike: one program, which the front also attaches to
 * sys_exit_execveat (a start verifies 3 programs, not 4). */
SEC("tracepoint/syscalls/sys_exit_execve")
int tp_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret, false);
}

/* The same three for kernels before 5.12 (the front loads one set or the other). */
SEC("tracepoint/syscalls/sys_enter_execve")
int tp_enter_execve_hash(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[0], (const char *const *)ctx->args[1], true);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tp_enter_execveat_hash(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], (const char *const *)ctx->args[2], true);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tp_exit_hash(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret, true);
}

char LICENSE[] SEC("license") = "GPL";
