// SPDX-License-Identifier: GPL-2.0
/* uprobe: libc's abs() and labs() seen on entry and on return. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

int my_pid = 0;
int abs_arg, abs_ret;
long labs_arg, labs_ret;
__u64 abs_calls, labs_calls;

/* attached by hand (attach_uprobe), only in this process */
SEC("uprobe")
int BPF_KPROBE(uprobe_abs, int x)
{
	abs_arg = x;
	abs_calls++;
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_abs, int ret)
{
	abs_ret = ret;
	return 0;
}

/* auto-attached from the section name, in every process: filtered by pid */
SEC("uprobe/libc.so.6:labs")
int BPF_KPROBE(uprobe_labs, long x)
{
	if ((bpf_get_current_pid_tgid() >> 32) != my_pid)
		return 0;
	labs_arg = x;
	labs_calls++;
	return 0;
}

SEC("uretprobe/libc.so.6:labs")
int BPF_KRETPROBE(uretprobe_labs, long ret)
{
	if ((bpf_get_current_pid_tgid() >> 32) != my_pid)
		return 0;
	labs_ret = ret;
	return 0;
}
