/* The event of the signal tools (killsnoop, sigsnoop); tools/_signals.py reads it. */
#ifndef PYBPF_TOOLS_SIGNALS_BPF_H
#define PYBPF_TOOLS_SIGNALS_BPF_H

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tpid;       /* the target (tgid for kill/tgkill, tid for tkill); read signed:
			   * kill()'s -pgid and -1 */
	__s32 sig;
	__s32 ret;        /* the syscall's result, or signal_generate's (0 delivered, 1 ignored,
			   * 2 already pending, ...) */
	char comm[TASK_COMM_LEN];
};

#endif
