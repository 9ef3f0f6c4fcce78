/* Event layout shared by tcpstates.bpf.c and the Python front. */
#ifndef PYBPF_TCPSTATES_H
#define PYBPF_TCPSTATES_H

struct event {
	__u64 skaddr;
	__u64 ts_ns;
	__u64 delta_us;      /* time spent in the old state */
	__u32 pid;
	__s32 oldstate;
	__s32 newstate;
	__u32 pad;
	struct addrs a;
	char comm[16];
};

#endif
