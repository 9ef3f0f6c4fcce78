// SPDX-License-Identifier: GPL-2.0
/* runqlen: sample each CPU's CFS run queue length at a fixed frequency (a perf_event
 * program on the CPU clock), counting the samples per length in the kernel. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "runqlen.h"

const volatile bool per_cpu = false;

/* cfs_rq->nr_running became nr_queued in 6.14: read whichever this kernel has */
struct cfs_rq___old {
	unsigned int nr_running;
} __attribute__((preserve_access_index));

struct cfs_rq___new {
	unsigned int nr_queued;
} __attribute__((preserve_access_index));

PERCPU_ARRAY_MAP(lens, __u64, MAX_CPUS * MAX_LEN);

SEC("perf_event")
int do_sample(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	void *cfs = BPF_CORE_READ(task, se.cfs_rq);
	__u32 len, key, cpu;
	__u64 *n;

	/* -c: samples taken while a task of the cgroup runs (its group's queue) */
	if (!current_in_groups())
		return 0;

	if (bpf_core_field_exists(((struct cfs_rq___new *)0)->nr_queued))
		len = BPF_CORE_READ((struct cfs_rq___new *)cfs, nr_queued);
	else
		len = BPF_CORE_READ((struct cfs_rq___old *)cfs, nr_running);
	/* the current task is on the queue too: count only those waiting */
	if (len > 0)
		len--;
	if (len >= MAX_LEN)
		len = MAX_LEN - 1;
	cpu = per_cpu ? bpf_get_smp_processor_id() : 0;
	if (cpu >= MAX_CPUS)
		return 0;
	key = cpu * MAX_LEN + len;
	n = bpf_map_lookup_elem(&lens, &key);
	if (n)
		*n += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
