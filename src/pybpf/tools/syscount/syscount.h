/* Map layouts shared by syscount.bpf.c and the Python front. */
#ifndef PYBPF_SYSCOUNT_H
#define PYBPF_SYSCOUNT_H

/* counts[key]: key is the syscall number, or the process id with -P */
struct data {
	__u64 count;
	__u64 total_ns;
	char comm[16];
};

#endif
