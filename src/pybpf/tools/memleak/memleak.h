/* memleak's maps: allocs (address -> struct alloc_info, outstanding allocations) and
 * stacks (stack trace map). */
#ifndef PYBPF_MEMLEAK_H
#define PYBPF_MEMLEAK_H

struct alloc_info {
	__u64 size;
	__u64 ts_ns;
	__s32 stack_id;
	__u32 pid;
};

/* --combined-only: outstanding bytes and allocations per stack, kept at alloc and free */
struct combined_info {
	__u64 total_size;
	__u64 number_of_allocs;
};

#endif
