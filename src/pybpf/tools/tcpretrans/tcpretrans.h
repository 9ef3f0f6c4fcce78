/* Event layout shared by tcpretrans.bpf.c and the Python front. */
#ifndef PYBPF_TCPRETRANS_H
#define PYBPF_TCPRETRANS_H

enum { RETRANSMIT = 1, TAIL_LOSS_PROBE = 2 };

struct event {
	__u64 ts_ns;
	__u32 pid;
	__s32 state;
	struct addrs a;
	__u32 seq;		/* the skb's first sequence number (-s) */
	__u32 type;		/* RETRANSMIT or TAIL_LOSS_PROBE (-l) */
};

/* counts (-c): struct addrs -> __u64 */

#endif
