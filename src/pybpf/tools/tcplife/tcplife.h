/* Event layout shared by tcplife.bpf.c and the Python front. */
#ifndef PYBPF_TCPLIFE_H
#define PYBPF_TCPLIFE_H

struct ident {
	__u32 pid;
	char comm[16];
};

struct event {
	__u64 ts_ns;
	__u64 span_us;
	__u64 rx_b;
	__u64 tx_b;
	__u32 pid;
	__u32 pad;
	struct addrs a;
	char comm[16];
};

#endif
