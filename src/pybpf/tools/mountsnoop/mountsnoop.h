/* Event layout shared by mountsnoop.bpf.c and the Python front. */
#ifndef PYBPF_MOUNTSNOOP_H
#define PYBPF_MOUNTSNOOP_H

#define OP_MOUNT 0
#define OP_UMOUNT 1

struct args {
	__u64 flags;
	const char *src;
	const char *dest;
	const char *fs;
	const char *data;
	__u32 op;
};

struct event {
	__u64 ts_ns;
	__u64 flags;
	__u64 mnt_ns;
	__u32 pid;
	__u32 tid;
	__s32 ret;
	__u32 op;
	char comm[16];
	char src[64];
	char dest[128];
	char fs[16];
	char data[64];
	__u32 ppid;		/* the parent's (real_parent) tgid and comm, for -P */
	char pcomm[16];
};

#endif
