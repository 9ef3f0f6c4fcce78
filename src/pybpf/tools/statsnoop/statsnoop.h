/* Event layout shared by statsnoop.bpf.c and the Python front. */
#ifndef PYBPF_STATSNOOP_H
#define PYBPF_STATSNOOP_H

#define NAME_MAX 255

struct event {
	__u64 ts_ns;
	__u32 pid;
	__s32 ret;
	char comm[16];
	char pathname[NAME_MAX + 1];
	__u32 type;		/* enum sys_type: which call (-s/--sysname) */
};

/* bcc's numbering of the stat calls (its SYSCALL column's names, in order) */
enum sys_type {
	SYS_STAT = 1,
	SYS_STATX,
	SYS_STATFS,
	SYS_NEWSTAT,
	SYS_NEWLSTAT,
	SYS_FSTATAT64,
	SYS_NEWFSTATAT,
};

#endif
