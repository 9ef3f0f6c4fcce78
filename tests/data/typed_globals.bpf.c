// SPDX-License-Identifier: GPL-2.0
/* Globals of every kind the typed views handle (tests/test_typed_globals.py). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct pt_cfg {
	__u8 flag;            /* padding follows */
	__u32 limit;
	union {
		__u16 port;
		__u16 raw;
	};
	unsigned int lo : 3, hi : 5;
	char label[6];
};

const volatile __u64 min_duration_ns = 0;
const volatile bool verbose = false;
const volatile char prefix[8] = "pt";
const volatile float scale = 1.0;
const volatile __s16 delta = -1;
const volatile struct pt_cfg tunables = {};

__u32 my_pid = 0;                 /* .bss, written by user space after load */
__u64 hits = 0;
__s32 last_delta = 0;
__u64 seen_min = 0;
__u16 ports[3] = {};
char last_comm[16] = {};
__u32 cfg_limit = 0;
__u16 cfg_port = 0;
__u8 cfg_hi = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct pt_cfg);
} cfgs SEC(".maps");

__u64 counter = 7;                /* .data */
double ratio = 0.5;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != my_pid)
		return 0;
	hits++;
	counter += 1;
	last_delta = delta;
	seen_min = min_duration_ns;
	ports[0] = tunables.port;
	cfg_limit = tunables.limit;
	cfg_port = tunables.port;
	cfg_hi = tunables.hi;
	bpf_map_update_elem(&cfgs, &my_pid, (void *)&tunables, BPF_ANY);
	if (verbose)
		bpf_get_current_comm(last_comm, sizeof(last_comm));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
