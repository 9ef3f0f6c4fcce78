/* Event layout shared by opensnoop.bpf.c and the Python front. */
#ifndef PYBPF_OPENSNOOP_H
#define PYBPF_OPENSNOOP_H

#define NAME_MAX 255

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;        /* fd, or -errno */
	__s32 dirfd;      /* openat's dirfd (AT_FDCWD for open) */
	__u32 flags;
	__u32 mode;
	__u32 pad;
	char comm[16];
	char fname[NAME_MAX + 1];
};

#endif
