/* offcputime's maps: counts (struct stack_key of ../_stacks.bpf.h -> __u64 microseconds). */
#ifndef PYBPF_OFFCPUTIME_H
#define PYBPF_OFFCPUTIME_H

struct start {
	__u64 ts;
	struct stack_key key;
};

#endif
