// SPDX-License-Identifier: GPL-2.0
/* An __arena global without an arena map: refused in one line, as libbpf does. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

int __attribute__((address_space(1))) lonely = 1;

SEC("tp/syscalls/sys_enter_getppid")
int touch(void *ctx)
{
	lonely++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
