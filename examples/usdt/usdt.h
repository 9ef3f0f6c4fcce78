/* SPDX-License-Identifier: GPL-2.0 */
/* What usdt.bpf.c reports for each gc__start probe hit. */
#ifndef USDT_H
#define USDT_H

struct gc_event {
	int pid;
	int generation;       /* the probe's argument, read through usdt.bpf.h */
	unsigned long long cookie;
	bool manual;          /* from the program attached by hand */
};

#endif
