// SPDX-License-Identifier: GPL-2.0
/* minimal: count (and bpf_printk) this process's write(2) calls. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

int my_pid = 0;          /* set by user space after load: obj.bss.my_pid */
__u64 hits = 0;

SEC("tp/syscalls/sys_enter_write")
int handle_tp(void *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != my_pid)
		return 0;
	hits++;
	bpf_printk("BPF triggered from PID %d.\n", pid);
	return 0;
}
