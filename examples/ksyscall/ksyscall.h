/* SPDX-License-Identifier: GPL-2.0 */
/* A kill()/tgkill() call seen by ksyscall.bpf.c. */
#ifndef KSYSCALL_H
#define KSYSCALL_H

struct signal_event {
	int pid;            /* who sends */
	int target_pid;     /* kill: pid; tgkill: thread group */
	int target_tid;     /* tgkill only */
	int sig;
	bool tgkill;
	char comm[16];
};

#endif
