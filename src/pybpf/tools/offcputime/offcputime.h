/* offcputime's maps: counts (struct stack_key as profile's -> __u64 microseconds). */
#ifndef PYBPF_OFFCPUTIME_H
#define PYBPF_OFFCPUTIME_H

struct stack_key {
	__u32 pid;
	__u32 tid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[16];
};

struct start {
	__u64 ts;
	struct stack_key key;
};

#endif
