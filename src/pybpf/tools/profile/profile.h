/* profile's maps: counts (struct stack_key -> __u64 samples) and stacks (stack trace map). */
#ifndef PYBPF_PROFILE_H
#define PYBPF_PROFILE_H

struct stack_key {
	__u32 pid;
	__u32 tid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[16];
};

#endif
