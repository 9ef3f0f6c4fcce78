// SPDX-License-Identifier: GPL-2.0
/* exitsnoop: process (or thread) exits from sched:sched_process_exit, with age and
 * exit status read from the exiting task. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "exitsnoop.h"

const volatile bool failed_only = false;
const volatile bool per_thread = false;

RINGBUF_MAP(events, 256 * 1024);

/* The fields read, as a local CO-RE flavour (matched to struct task_struct by name):
 * the whole struct would put ~26 KB of kernel types into the object's BTF, which the
 * kernel checks again at every start. */
struct task_struct___exit {
	int exit_code;
	__u64 start_time;
	struct task_struct___exit *real_parent;
	int tgid;
} __attribute__((preserve_access_index));

SEC("tracepoint/sched/sched_process_exit")
int tp_exit(void *ctx)
{
	struct task_struct___exit *task = (void *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	__u32 code;
	struct event *e;

	if (!per_thread && pid != tid)
		return 0;
	if (!current_wanted())
		return 0;
	code = BPF_CORE_READ(task, exit_code);
	if (failed_only && code == 0)
		return 0;
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		return 0;
	e->start_ns = BPF_CORE_READ(task, start_time);
	e->exit_ns = bpf_ktime_get_ns();
	e->pid = pid;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = code;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
