/* Event layout shared by bashreadline.bpf.c and the Python front. */
#ifndef PYBPF_BASHREADLINE_H
#define PYBPF_BASHREADLINE_H

#define MAX_LINE 120

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 pad;
	char comm[16];
	char line[MAX_LINE];
};

#endif
