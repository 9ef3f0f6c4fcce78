/* stackcount's map: counts (struct stack_key -> __u64); pid and comm set with -P only. */
#ifndef PYBPF_STACKCOUNT_H
#define PYBPF_STACKCOUNT_H

struct stack_key {
	__u32 pid;
	__u32 tid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[16];
};

#endif
