/* Event layout shared by biosnoop.bpf.c and the Python front. */
#ifndef PYBPF_BIOSNOOP_H
#define PYBPF_BIOSNOOP_H

struct event {
	__u64 ts_ns;        /* completion */
	__u64 delta_ns;     /* issue to completion */
	__u64 qdelta_ns;    /* insert to issue (-Q), else 0 */
	__u64 sector;
	__u32 len;
	__u32 dev;
	__u32 flags;        /* _block.bpf.h's layout */
	__u32 pid;
	char comm[16];
	__u32 pattern;      /* -P: 0 unknown, 1 sequential, 2 random */
	__u32 pad;
};

#endif
