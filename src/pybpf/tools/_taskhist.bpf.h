/* The per-task latency histograms of runqlat and cpudist: a start time per thread, then
 * the interval's length in a histogram (one, or one per process with -P or per thread
 * with -L), in microseconds or (-m) milliseconds. */
#ifndef PYBPF_TOOLS_TASKHIST_BPF_H
#define PYBPF_TOOLS_TASKHIST_BPF_H

const volatile bool by_pid = false;   /* -P */
const volatile bool by_tid = false;   /* -L */
const volatile bool millis = false;   /* -m */

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

/* Count one interval of t's, delta ns long, in its histogram. */
static __always_inline void record_interval(struct task_struct *t, __u64 delta)
{
	__u32 key = task_key(t, by_pid, by_tid);

	delta /= millis ? 1000000 : 1000;
	hist_add(&hists, &key, delta);
}

#endif
