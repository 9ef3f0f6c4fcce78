/* SPDX-License-Identifier: GPL-2.0 */
/* An unlink seen by kprobe.bpf.c / fentry.bpf.c: on entry (filename) or exit (ret). */
#ifndef UNLINK_EVENT_H
#define UNLINK_EVENT_H

struct unlink_event {
	int pid;
	bool exit;
	long ret;
	char filename[128];
};

#endif
