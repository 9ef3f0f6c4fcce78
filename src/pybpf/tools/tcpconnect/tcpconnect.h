/* tcpconnect sends struct conn_event of ../_sock.bpf.h, and with -d the DNS answers
 * below on the same ring buffer (told apart by their size), so an answer always comes
 * before the connect that used it. */
#ifndef PYBPF_TCPCONNECT_H
#define PYBPF_TCPCONNECT_H

#define DNS_MAX 512		/* bcc's: a DNS message over UDP without EDNS */

struct dns_event {
	__u32 len;		/* bytes of pkt used */
	__u32 pad;
	__u8 pkt[DNS_MAX];
};

#endif
