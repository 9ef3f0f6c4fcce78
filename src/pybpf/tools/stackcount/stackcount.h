/* stackcount's map: counts (struct stack_key of ../_stacks.bpf.h -> __u64); pid and comm set with -P only. */
#ifndef PYBPF_STACKCOUNT_H
#define PYBPF_STACKCOUNT_H

#endif
