/* fwflood: send COUNT UDP (or TCP SYN) frames through AF_PACKET from NSRC source addresses
 * (SRC, SRC+1, ... round robin), retrying when the device refuses one (ENOBUFS), so the
 * count that left is exact.  Used by the firewall tests and bench/bench_firewall.py.
 *
 *   fwflood IFACE DSTMAC SRCMAC 4|6 SRC NSRC DST udp|tcp DPORT COUNT [PAYLOAD]
 * prints "sent N seconds S". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint16_t csum(const void *p, int n)
{
	const uint16_t *w = p;
	uint32_t s = 0;
	for (; n > 1; n -= 2)
		s += *w++;
	if (n)
		s += *(const uint8_t *)w;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

static int mac(const char *s, uint8_t *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", m, m + 1, m + 2, m + 3, m + 4, m + 5) == 6;
}

#define BATCH 64

int main(int argc, char **argv)
{
	if (argc < 11) {
		fprintf(stderr, "usage: fwflood IFACE DSTMAC SRCMAC 4|6 SRC NSRC DST udp|tcp DPORT COUNT [PAYLOAD]\n");
		return 2;
	}
	int v6 = atoi(argv[4]) == 6, tcp = !strcmp(argv[8], "tcp");
	long nsrc = atol(argv[6]), count = atol(argv[10]);
	int payload = argc > 11 ? atoi(argv[11]) : 18;
	int l4len = (tcp ? 20 : 8) + payload, iplen = (v6 ? 40 : 20) + l4len, len = 14 + iplen;
	static uint8_t frames[BATCH][2048];
	uint8_t dmac[6], smac[6], src[16], dst[16];
	if (!mac(argv[2], dmac) || !mac(argv[3], smac) || len > 2048 || nsrc < 1 ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, argv[5], src) != 1 ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, argv[7], dst) != 1) {
		fprintf(stderr, "fwflood: bad arguments\n");
		return 2;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = if_nametoindex(argv[1]),
				   .sll_halen = 6 };
	memcpy(sll.sll_addr, dmac, 6);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "fwflood: no interface %s\n", argv[1]);
		return 1;
	}
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	memset(msgs, 0, sizeof(msgs));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long sent = 0;
	while (sent < count) {
		int n = count - sent < BATCH ? count - sent : BATCH;
		for (int i = 0; i < n; i++) {
			uint8_t *f = frames[i], *ip = f + 14, *l4 = ip + (v6 ? 40 : 20);
			uint8_t s[16];
			long k = (sent + i) % nsrc;
			memset(f, 0, len);
			memcpy(f, dmac, 6);
			memcpy(f + 6, smac, 6);
			memcpy(s, src, 16);
			int last = v6 ? 15 : 3;
			uint32_t carry = k;
			for (int b = last; b >= 0 && carry; b--) {
				carry += s[b];
				s[b] = carry & 0xff;
				carry >>= 8;
			}
			if (v6) {
				f[12] = 0x86; f[13] = 0xdd;
				ip[0] = 0x60;
				*(uint16_t *)(ip + 4) = htons(l4len);
				ip[6] = tcp ? 6 : 17;
				ip[7] = 64;
				memcpy(ip + 8, s, 16);
				memcpy(ip + 24, dst, 16);
			} else {
				f[12] = 0x08; f[13] = 0x00;
				ip[0] = 0x45;
				*(uint16_t *)(ip + 2) = htons(iplen);
				ip[8] = 64;
				ip[9] = tcp ? 6 : 17;
				memcpy(ip + 12, s, 4);
				memcpy(ip + 16, dst, 4);
				*(uint16_t *)(ip + 10) = csum(ip, 20);
			}
			*(uint16_t *)l4 = htons(10000 + (k & 0x3fff));
			*(uint16_t *)(l4 + 2) = htons(atoi(argv[9]));
			if (tcp) {
				l4[12] = 0x50;
				l4[13] = 0x02;   /* SYN */
				*(uint16_t *)(l4 + 14) = htons(1024);
			} else {
				*(uint16_t *)(l4 + 4) = htons(l4len);
			}
			iov[i].iov_base = f;
			iov[i].iov_len = len;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &sll;
			msgs[i].msg_hdr.msg_namelen = sizeof(sll);
		}
		int r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
				sched_yield();   /* the peer's queue is full: retry the same frame */
				continue;
			}
			perror("sendmmsg");
			return 1;
		}
		sent += r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sent %ld seconds %.6f\n", sent,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
