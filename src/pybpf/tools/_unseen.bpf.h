/* Off-CPU stretches (runqlat: run-queue waits) whose end no BPF program saw: cpudist -O,
 * runqlat, offcputime; and on-CPU runs whose start none saw: cpudist.  A kernel may run
 * no program for a sched_switch: this one (6.18, a sandbox's kernel) runs none while the
 * task leaving the CPU is one of its init's threads, so the switch that brings a traced
 * task back after it is never seen.  The stretch is still open when the task next
 * leaves the CPU (a switch always seen: it runs in the traced task); its end is then
 * known from the task's run time, which stood still while it was off the CPU.  A run
 * begun at such a switch is timed the same way, from the run time at the task's
 * previous switch-out (cpudist.bpf.c). */
#ifndef PYBPF_TOOLS_UNSEEN_BPF_H
#define PYBPF_TOOLS_UNSEEN_BPF_H

/* The counters' keys: stretches (runs) timed that way; ones that could not be (run time
 * went back; a run: more than one switch-in since the last switch-out seen) */
#define UNSEEN_STRETCH_TIMED 0
#define UNSEEN_STRETCH_LOST 1
#define UNSEEN_RUN_TIMED 2
#define UNSEEN_RUN_LOST 3
PERCPU_ARRAY_MAP(unseen, __u64, 4);

static __always_inline void count_unseen(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&unseen, &which);

	if (n)
		*n += 1;
}

/* t's run time in ns (se.sum_exec_runtime, brought up to date by the scheduler before
 * the sched_switch tracepoint runs for t leaving the CPU). */
static __always_inline __u64 task_ran(struct task_struct *t)
{
	return BPF_CORE_READ(t, se.sum_exec_runtime);
}

/* How many times t has been switched in (sched_info.pcount, counted at each arrival on
 * a CPU; 0 without CONFIG_SCHED_INFO). */
static __always_inline __u64 task_runs(struct task_struct *t)
{
	if (bpf_core_field_exists(t->sched_info.pcount))
		return BPF_CORE_READ(t, sched_info.pcount);
	return 0;
}

/* t leaves the CPU at now with a stretch begun at ts (its run time then: ran) still
 * open: it came back unseen and has run since.  The stretch's length in ns in *delta
 * (counted in unseen[0]), or false (unseen[1]) when the numbers do not fit. */
static __always_inline bool unseen_stretch(struct task_struct *t, __u64 ts, __u64 ran,
					   __u64 now, __u64 *delta)
{
	__u64 on = task_ran(t) - ran;

	if ((__s64)on < 0 || now < ts + on) {
		count_unseen(UNSEEN_STRETCH_LOST);
		return false;
	}
	*delta = now - ts - on;
	count_unseen(UNSEEN_STRETCH_TIMED);
	return true;
}

#endif
