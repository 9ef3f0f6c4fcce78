/* SPDX-License-Identifier: GPL-2.0 */
/* One record of task_iter.bpf.c's iterator: a task and its kernel stack. */
#ifndef TASK_ITER_H
#define TASK_ITER_H

#define TASK_COMM_LEN 16
#define MAX_STACK_LEN 16

struct task_info {
	int pid;           /* process (thread group) id */
	int tid;           /* thread id */
	unsigned int state;
	char comm[TASK_COMM_LEN];
	int kstack_len;    /* bytes of kstack used, or a negative error */
	unsigned long long kstack[MAX_STACK_LEN];
};

#endif
