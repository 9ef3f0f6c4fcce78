/* Event layout shared by killsnoop.bpf.c and the Python front. */
#ifndef PYBPF_KILLSNOOP_H
#define PYBPF_KILLSNOOP_H

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tpid;       /* the target pid (tgid for kill/tgkill, tid for tkill) */
	__s32 sig;
	__s32 ret;
	char comm[16];
};

#endif
