/* SPDX-License-Identifier: GPL-2.0 */
/* One sample of profile.bpf.c: who ran on which CPU, with kernel and user stacks. */
#ifndef PROFILE_H
#define PROFILE_H

#define TASK_COMM_LEN 16
#define MAX_STACK_DEPTH 32

typedef unsigned long long stack_trace_t[MAX_STACK_DEPTH];

struct stacktrace_event {
	unsigned int pid;
	unsigned int cpu_id;
	char comm[TASK_COMM_LEN];
	int kstack_sz;        /* bytes, or a negative error */
	int ustack_sz;
	stack_trace_t kstack;
	stack_trace_t ustack;
};

#endif
