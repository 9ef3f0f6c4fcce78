/* Event layout shared by bindsnoop.bpf.c and the Python front. */
#ifndef PYBPF_BINDSNOOP_H
#define PYBPF_BINDSNOOP_H

struct pending {
	int fd;
	__u32 pad;
	const void *addr;
};

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 uid;
	__s32 ret;
	__u16 family;
	__u16 port;
	__u16 type;         /* SOCK_STREAM 1, SOCK_DGRAM 2, ... */
	__u8 reuseaddr;
	__u8 reuseport;
	__u32 bound_if;
	__u8 addr[16];
	char comm[16];
};

/* --count: binds per local address and port, counted in the kernel */
struct count_key {
	__u8 addr[16];
	__u16 family;
	__u16 port;
};

#endif
