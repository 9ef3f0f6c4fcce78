/* The per-task latency histograms of runqlat and cpudist: a start time per thread, then
 * the interval's length in a histogram (one, or one per process with -P or per thread
 * with -L), in microseconds or (-m) milliseconds. */
#ifndef PYBPF_TOOLS_TASKHIST_BPF_H
#define PYBPF_TOOLS_TASKHIST_BPF_H

/* cpudist's -e totals; runqlat (bcc's has no -e) keeps its load free of the map */
#ifdef TASKHIST_EXTENSION
#include "_extsum.bpf.h"
#else
#define ext_add(value) do { } while (0)
#endif

const volatile bool by_pid = false;   /* -P */
const volatile bool by_tid = false;   /* -L */
const volatile bool millis = false;   /* -m */
const volatile bool by_pidns = false; /* runqlat --pidnss */
const volatile bool include_idle = false;   /* cpudist -I: the idle tasks (pid 0) too */

#include "_unseen.bpf.h"

/* When a thread's interval began, and its run time and switch-ins then (an interval
 * whose end no program saw is timed from them: _unseen.bpf.h).  On-CPU cpudist keeps
 * the entry between runs, ts 0 (cpudist.bpf.c). */
struct interval_start {
	__u64 ts;
	__u64 ran;
	__u64 runs;
};

HASH_MAP(start, __u32, struct interval_start, 10240);
HASH_MAP(hists, __u32, struct hist, 10240);

/* The start map's key of t: its thread id; each CPU's idle task (pid 0 on every CPU)
 * gets one of its own above any pid (PID_MAX_LIMIT is 2^22), 0 (none) without -I.  t
 * is always switching on or off the current CPU. */
static __always_inline __u32 interval_key(struct task_struct *t)
{
	__u32 tid = BPF_CORE_READ(t, pid);

	if (!tid && include_idle)
		return 0xffff0000 | bpf_get_smp_processor_id();
	return tid;
}

/* Start t's interval at now (a task the -p/-t filters want; the idle task with -I); a
 * full map counts a drop. */
static __always_inline void start_interval(struct task_struct *t, __u64 now)
{
	__u32 tid = interval_key(t);
	struct interval_start s = { .ts = now, .ran = task_ran(t), .runs = task_runs(t) };

	if (!tid || !task_wanted(t))
		return;
	if (bpf_map_update_elem(&start, &tid, &s, BPF_ANY))
		count_drop();
}

/* End t's interval at now: its length in ns in *delta, false when none was started. */
static __always_inline bool end_interval(struct task_struct *t, __u64 now, __u64 *delta)
{
	__u32 tid = interval_key(t);
	struct interval_start *s = bpf_map_lookup_elem(&start, &tid);
	__u64 begun;

	if (!s)
		return false;
	begun = s->ts;
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
	ext_add(delta);
}

/* t, the task leaving the CPU, still has an interval open that ended at a switch-in no
 * program saw (_unseen.bpf.h): record it now, timed from t's run time.  cpudist -O: any
 * interval still open at a switch-out did.  runqlat (switched_in): only one t has been
 * switched in since it began; a task woken while still on its CPU has a wait open that
 * has not ended (and without CONFIG_SCHED_INFO the two cannot be told apart). */
static __always_inline void close_unseen(struct task_struct *t, __u64 now, bool switched_in)
{
	__u32 tid = BPF_CORE_READ(t, pid);      /* (not the idle tasks: no run time) */
	struct interval_start *s;
	__u64 delta;

	if (!tid)
		return;
	s = bpf_map_lookup_elem(&start, &tid);
	if (!s || (switched_in && task_runs(t) == s->runs))
		return;
	if (unseen_stretch(t, s->ts, s->ran, now, &delta))
		record_interval(t, delta);
	bpf_map_delete_elem(&start, &tid);
}

#endif
