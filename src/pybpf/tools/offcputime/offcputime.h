/* offcputime's maps: counts (struct stack_key of ../_stacks.bpf.h -> __u64 microseconds). */
#ifndef PYBPF_OFFCPUTIME_H
#define PYBPF_OFFCPUTIME_H

struct start {
	__u64 ts;
	__u64 ran;              /* the task's run time at ts (../_unseen.bpf.h) */
	struct stack_key key;
};

#endif
