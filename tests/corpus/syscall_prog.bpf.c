// SPDX-License-Identifier: GPL-2.0
/* SEC("syscall") program (sleepable, run via BPF_PROG_TEST_RUN) creating a map with bpf_sys_bpf. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct args {
	__u32 max_entries;
	int map_fd;
};

SEC("syscall")
int make_map(struct args *ctx)
{
	union bpf_attr attr = {};

	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = ctx->max_entries;
	ctx->map_fd = bpf_sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
	return ctx->map_fd < 0;
}

char LICENSE[] SEC("license") = "GPL";
