/* The per-task latency histograms of runqlat and cpudist: a start time per thread, then
 * the interval's length in a histogram (one, or one per process with -P or per thread
 * with -L), in microseconds or (-m) milliseconds. */
#ifndef PYBPF_TOOLS_TASKHIST_BPF_H
#define PYBPF_TOOLS_TASKHIST_BPF_H

const volatile bool by_pid = false;   /* -P */
const volatile bool by_tid = false;   /* -L */
const volatile bool millis = false;   /* -m */
const volatile bool by_pidns = false; /* runqlat --pidnss */

HASH_MAP(start, __u32, __u64, 10240);
HASH_MAP(hists, __u32, struct hist, 10240);

/* Start t's interval at now (a task the -p/-t filters want; never the idle task). */
static __always_inline void start_interval(struct task_struct *t, __u64 now)
{
	__u32 tid = BPF_CORE_READ(t, pid);

	if (!tid || !task_wanted(t))
		return;
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
}

/* End t's interval at now: its length in ns in *delta, false when none was started. */
static __always_inline bool end_interval(struct task_struct *t, __u64 now, __u64 *delta)
{
	__u32 tid = BPF_CORE_READ(t, pid);
	__u64 *ts = bpf_map_lookup_elem(&start, &tid);
	__u64 begun;

	if (!ts)
		return false;
	begun = *ts;
	bpf_map_delete_elem(&start, &tid);
	if (begun > now)
		return false;
	*delta = now - begun;
	return true;
}

/* The inode number of t's own pid namespace (task_active_pid_ns():
 * thread_pid->numbers[thread_pid->level].ns), as /proc/PID/ns/pid shows it. */
static __always_inline __u32 task_pidns(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
	return BPF_CORE_READ(up.ns, ns.inum);
}

/* Count one interval of t's, delta ns long, in its histogram. */
static __always_inline void record_interval(struct task_struct *t, __u64 delta)
{
	__u32 key = by_pidns ? task_pidns(t) : task_key(t, by_pid, by_tid);

	delta /= millis ? 1000000 : 1000;
	hist_add(&hists, &key, delta);
}

#endif
