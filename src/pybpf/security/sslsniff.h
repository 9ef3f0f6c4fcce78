/* pybpf sslsniff: the record shared by sslsniff.bpf.c and pybpf/security/sslsniff.py. */
#ifndef PYBPF_SSLSNIFF_H
#define PYBPF_SSLSNIFF_H

#define MAX_DATA 16384        /* the most --max-buffer-size may ask for */

/* attach cookie: what the probed function is */
#define C_DIR_MASK 3          /* 0 read/recv, 1 write/send, 2 handshake */
#define C_EX 4                /* OpenSSL *_ex: the byte count is stored through arg 4 */
#define C_LIB_SHIFT 4         /* 1 OpenSSL, 2 GnuTLS, 3 NSS */

struct tls_event {
	__u64 ts_ns;          /* at return */
	__u64 delta_ns;       /* time spent in the call */
	__u32 pid, tid, uid;
	__s32 len;            /* bytes the call moved (or its result, for a handshake) */
	__u32 copied;         /* bytes of them in data[] */
	__u32 cookie;
	char comm[16];
	char data[MAX_DATA];
};

#endif
