// SPDX-License-Identifier: GPL-2.0
/* .kconfig values libbpf computes rather than reads: LINUX_HAS_SYSCALL_WRAPPER (a kprobe
 * probe), LINUX_HAS_BPF_COOKIE, and a char array config (CONFIG_DEFAULT_HOSTNAME).  The
 * early returns let the verifier prune code after a constant value, so a different value
 * shows in the translated instructions. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig __weak;
extern int CONFIG_HZ __kconfig;
extern enum libbpf_tristate CONFIG_BPF_SYSCALL __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[8] __kconfig __weak;

SEC("socket")
int kconfig_special(struct __sk_buff *skb)
{
	if (LINUX_KERNEL_VERSION == 0)
		return 1;
	if (LINUX_HAS_SYSCALL_WRAPPER == 0)
		return 2;
	if (LINUX_HAS_BPF_COOKIE == 0)
		return 3;
	if (CONFIG_HZ == 0)
		return 4;
	if (CONFIG_BPF_SYSCALL == TRI_NO)
		return 5;
	if (CONFIG_DEFAULT_HOSTNAME[0] == 0)
		return 6;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
