/* profile's maps: counts (struct stack_key of ../_stacks.bpf.h -> __u64 samples) and
 * stacks (the stack trace map). */
#ifndef PYBPF_PROFILE_H
#define PYBPF_PROFILE_H

#endif
