/* Event layout shared by tcpretrans.bpf.c and the Python front. */
#ifndef PYBPF_TCPRETRANS_H
#define PYBPF_TCPRETRANS_H

struct event {
	__u64 ts_ns;
	__u32 pid;
	__s32 state;
	struct addrs a;
	__u32 seq;		/* the skb's first sequence number (-s) */
};

/* counts (-c): struct addrs -> __u64 */

#endif
