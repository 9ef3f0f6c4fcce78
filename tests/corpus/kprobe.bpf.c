// SPDX-License-Identifier: GPL-2.0
/* kprobe / kretprobe / kprobe.multi with a perf event array and a percpu hash. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} perf_out SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, struct { __u64 a; __u32 b; });
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counts SEC(".maps");

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(unlink_entry, int dfd)
{
	__u64 key = dfd;

	bpf_perf_event_output(ctx, &perf_out, BPF_F_CURRENT_CPU, &key, sizeof(key));
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(unlink_exit, long ret)
{
	__u64 key = ret;

	bpf_map_lookup_elem(&counts, &key);
	return 0;
}

SEC("kprobe/tcp_v4_connect+8")
int probe_offset(void *ctx) { return 0; }

SEC("kprobe.multi/vfs_*")
int multi_entry(void *ctx) { return 0; }

SEC("ksyscall/openat")
int sys_openat(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x60c00;
