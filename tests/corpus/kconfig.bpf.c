// SPDX-License-Identifier: GPL-2.0
/* .kconfig externs: LINUX_KERNEL_VERSION, an int (CONFIG_HZ), a bool, a tristate, a weak missing one. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig __weak;
extern bool CONFIG_PYBPF_DOES_NOT_EXIST __kconfig __weak;

__u64 hz, version, jit;

SEC("tracepoint/syscalls/sys_enter_nanosleep")
int read_config(void *ctx)
{
	version = LINUX_KERNEL_VERSION;
	if (CONFIG_BPF_SYSCALL)
		hz = CONFIG_HZ;
	if (CONFIG_BPF_JIT == TRI_YES)
		jit = 2;
	else if (CONFIG_BPF_JIT == TRI_MODULE)
		jit = 1;
	if (CONFIG_PYBPF_DOES_NOT_EXIST)
		jit = 99;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
