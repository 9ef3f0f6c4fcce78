// SPDX-License-Identifier: GPL-2.0
/* OOM kills by the victim's command name (oom:mark_victim). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pybpf_exporter.h"

struct oom_key {
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct oom_key);
	__type(value, __u64);
} oom_kills SEC(".maps");

SEC("tracepoint/oom/mark_victim")
int mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	struct oom_key key = {};

	/* the victim's comm is in the event since 6.8; before, only its pid */
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		__u32 loc = BPF_CORE_READ(ctx, __data_loc_comm);

		bpf_probe_read_kernel_str(key.comm, sizeof(key.comm),
					  (void *)ctx + (loc & 0xFFFF));
	} else {
		__builtin_memcpy(key.comm, "unknown", 8);
	}
	counter_add(&oom_kills, &key, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
