/* Event layout shared by sigsnoop.bpf.c and the Python front. */
#ifndef PYBPF_SIGSNOOP_H
#define PYBPF_SIGSNOOP_H

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tpid;
	__s32 sig;
	__s32 ret;     /* signal_generate's result: 0 delivered, 1 ignored, 2 already pending, ... */
	char comm[16];
};

#endif
