/* Event layout shared by gethostlatency.bpf.c and the Python front. */
#ifndef PYBPF_GETHOSTLATENCY_H
#define PYBPF_GETHOSTLATENCY_H

#define HOST_LEN 80

struct start {
	__u64 ts_ns;
	char host[HOST_LEN];
};

struct event {
	__u64 ts_ns;
	__u64 delta_ns;
	__u32 pid;
	__u32 pad;
	char comm[16];
	char host[HOST_LEN];
};

#endif
