/* Event layout shared by exitsnoop.bpf.c and the Python front. */
#ifndef PYBPF_EXITSNOOP_H
#define PYBPF_EXITSNOOP_H

struct event {
	__u64 start_ns;     /* task's start (CLOCK_MONOTONIC) */
	__u64 exit_ns;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 exit_code;    /* task->exit_code: (status << 8) | signal | 0x80 core */
	char comm[16];
};

#endif
