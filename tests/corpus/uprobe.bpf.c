// SPDX-License-Identifier: GPL-2.0
/* uprobe / uretprobe / sleepable uprobe / usdt section names; .rodata strings. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

static const char fmt_msg[] = "readline";
int calls;

SEC("uprobe//bin/bash:readline")
int on_readline(void *ctx)
{
	char buf[16];
	const char *lit = calls > 3 ? "merged literal" : "other literal";

	calls++;
	bpf_printk("%s", fmt_msg);
	bpf_probe_read_kernel_str(buf, sizeof(buf), lit);
	return 0;
}

SEC("uretprobe//bin/bash:readline")
int on_readline_ret(void *ctx) { return 0; }

SEC("uprobe.s//usr/lib/libc.so.6:malloc+16")
int on_malloc(void *ctx) { return 0; }

SEC("uprobe//bin/true:0x1234")
int on_raw_offset(void *ctx) { return 0; }

SEC("uprobe")
int manual(void *ctx) { return 0; }

SEC("usdt/./app:prov:probe1")
int on_usdt(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
