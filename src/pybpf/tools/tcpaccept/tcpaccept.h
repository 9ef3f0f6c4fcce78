/* Event layout shared by tcpaccept.bpf.c and the Python front. */
#ifndef PYBPF_TCPACCEPT_H
#define PYBPF_TCPACCEPT_H

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 uid;
	struct addrs a;
	char comm[16];
};

#endif
