/* SPDX-License-Identifier: GPL-2.0 */
/* A packet seen by sockfilter.bpf.c (addresses and ports in network order). */
#ifndef SOCKFILTER_H
#define SOCKFILTER_H

struct so_event {
	__be32 src_addr;
	__be32 dst_addr;
	union {
		__be32 ports;
		__be16 port16[2];
	};
	__u32 ip_proto;
	__u32 pkt_type;
	__u32 ifindex;
};

#endif
