// SPDX-License-Identifier: GPL-2.0
/* syscount: syscalls counted (and timed with -L) in the kernel, per syscall or per
 * process, from the raw_syscalls tracepoints. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "syscount.h"

const volatile bool measure_latency = false;
const volatile bool count_by_process = false;
const volatile bool filter_failed = false;
const volatile int filter_errno = 0;
const volatile int filter_syscall = -1;
const volatile __u32 targ_ppid = 0;	/* --ppid: children of this process only */

HASH_MAP(start, __u32, __u64, 10240);
HASH_MAP(counts, __u32, struct data, 10240);

/* The fields read, as a local CO-RE flavour (matched to struct task_struct by name):
 * the whole struct would put ~26 KB of kernel types into the object's BTF, which the
 * kernel checks again at every start. */
struct task_struct___sc {
	struct task_struct___sc *real_parent;
	int tgid;
	struct task_struct___sc *group_leader;
	char comm[16];
} __attribute__((preserve_access_index));

/* Every filter, --ppid too (bcc's: the parent's tgid, real_parent as ptrace leaves it). */
static __always_inline bool wanted(void)
{
	if (targ_ppid) {
		struct task_struct___sc *task = (void *)bpf_get_current_task();

		if (BPF_CORE_READ(task, real_parent, tgid) != targ_ppid)
			return false;
	}
	return current_wanted();
}

static const struct data zero_data = {};

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ts;

	if (!measure_latency)
		return 0;
	if (filter_syscall >= 0 && ctx->id != filter_syscall)
		return 0;
	if (!wanted())
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 delta = 0, *ts;
	struct data *d;
	__u32 key;

	if (filter_syscall >= 0 && ctx->id != filter_syscall)
		return 0;
	if (filter_failed && ctx->ret >= 0)
		return 0;
	if (filter_errno && ctx->ret != -filter_errno)
		return 0;
	if (measure_latency) {
		ts = bpf_map_lookup_elem(&start, &tid);
		if (!ts)
			return 0;
		delta = bpf_ktime_get_ns() - *ts;
		bpf_map_delete_elem(&start, &tid);
	} else if (!wanted()) {
		return 0;
	}
	if (ctx->id < 0)
		return 0;
	key = count_by_process ? (__u32)(id >> 32) : (__u32)ctx->id;
	d = bpf_map_lookup_elem(&counts, &key);
	if (!d) {
		bpf_map_update_elem(&counts, &key, &zero_data, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&counts, &key);
		if (!d) {
			count_drop();
			return 0;
		}
	}
	/* -P names the process as /proc/PID/comm does (bcc reads it at print time): its
	 * leader's name, now.  An exec renames it after the first syscalls were counted and
	 * a thread may have a name of its own, so it is read on every call, as libbpf-tools. */
	if (count_by_process) {
		struct task_struct___sc *task = (void *)bpf_get_current_task();

		BPF_CORE_READ_STR_INTO(&d->comm, task, group_leader, comm);
	}
	__sync_fetch_and_add(&d->count, 1);
	if (measure_latency)
		__sync_fetch_and_add(&d->total_ns, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
