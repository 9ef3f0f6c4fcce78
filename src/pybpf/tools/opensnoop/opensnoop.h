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

/* With -F, a relative path's directory: its components, innermost first, read from the
 * opener's cwd (or dirfd's file) in the kernel at the open; "" ends them. */
#define DIR_DEPTH 16
#define DIR_NAME 64

struct event_full {
	struct event e;
	__u32 depth;         /* components filled */
	__u32 truncated;     /* the walk stopped before the root */
	char dir[DIR_DEPTH][DIR_NAME];
};

#endif
