// SPDX-License-Identifier: GPL-2.0
/* CO-RE enum relocations: enum_value_exists and enum_value, with a local ___flavor enum. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

enum bpf_map_type___local {
	BPF_MAP_TYPE_RINGBUF___local = 27,
	BPF_MAP_TYPE_PYBPF_FUTURE___local = 1000,
};

__u64 ringbuf_val, future_val, running_val;

SEC("tracepoint/syscalls/sys_enter_getuid")
int enums(void *ctx)
{
	if (bpf_core_enum_value_exists(enum bpf_map_type___local, BPF_MAP_TYPE_RINGBUF___local))
		ringbuf_val = bpf_core_enum_value(enum bpf_map_type___local, BPF_MAP_TYPE_RINGBUF___local);
	if (bpf_core_enum_value_exists(enum bpf_map_type___local, BPF_MAP_TYPE_PYBPF_FUTURE___local))
		future_val = bpf_core_enum_value(enum bpf_map_type___local,
						 BPF_MAP_TYPE_PYBPF_FUTURE___local);
	running_val = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
