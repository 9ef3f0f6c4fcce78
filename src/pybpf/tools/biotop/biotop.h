/* biotop's map: counts (struct key -> struct val), summed at completion. */
#ifndef PYBPF_BIOTOP_H
#define PYBPF_BIOTOP_H

struct io_key {
	__u32 pid;
	__u32 dev;
	__u32 write;
	char comm[16];
};

struct io_val {
	__u64 bytes;
	__u64 us;
	__u32 io;
	__u32 pad;
};

#endif
