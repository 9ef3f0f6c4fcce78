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

#endif
