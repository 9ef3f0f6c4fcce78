/* filetop's map: counts (struct file_key -> struct file_val), summed at syscall exit. */
#ifndef PYBPF_FILETOP_H
#define PYBPF_FILETOP_H

#define NAME_LEN 32

struct file_key {
	__u32 pid;
	__u32 tid;
	__u64 ino;
	__u32 dev;
	char type;        /* 'R' regular, 'S' socket, 'O' other */
	char pad[3];
	char comm[16];
	char name[NAME_LEN];
};

struct file_val {
	__u64 reads;
	__u64 writes;
	__u64 rbytes;
	__u64 wbytes;
};

struct pending {
	int fd;
	int write;
};

#endif
