/* Event layout shared by statsnoop.bpf.c and the Python front. */
#ifndef PYBPF_STATSNOOP_H
#define PYBPF_STATSNOOP_H

#define NAME_MAX 255

struct event {
	__u64 ts_ns;
	__u32 pid;
	__s32 ret;
	char comm[16];
	char pathname[NAME_MAX + 1];
};

#endif
