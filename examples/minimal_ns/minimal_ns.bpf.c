// SPDX-License-Identifier: GPL-2.0
/* minimal_ns: minimal, with the pid seen from a pid namespace (containers). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

int my_pid = 0;          /* the pid as the process sees it in its namespace */
unsigned long long dev = 0;
unsigned long long ino = 0;  /* of /proc/self/ns/pid */
__u64 hits = 0;

SEC("tp/syscalls/sys_enter_write")
int handle_tp(void *ctx)
{
	struct bpf_pidns_info ns;

	if (bpf_get_ns_current_pid_tgid(dev, ino, &ns, sizeof(ns)))
		return 0;     /* not in that namespace */
	if (ns.pid != my_pid)
		return 0;
	hits++;
	bpf_printk("BPF triggered from PID %d.\n", ns.pid);
	return 0;
}
