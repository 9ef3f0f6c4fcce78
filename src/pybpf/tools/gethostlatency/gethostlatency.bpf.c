// SPDX-License-Identifier: GPL-2.0
/* gethostlatency: latency of host name lookups (getaddrinfo, gethostbyname,
 * gethostbyname2) from uprobes and uretprobes on the C library. */
#include "vmlinux.h"
#include <bpf/bpf_tracing.h>
#include "../_common.bpf.h"
#include "gethostlatency.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(lookup_entry, const char *host)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct start s = {};

	if (!host || !current_wanted())
		return 0;
	s.ts_ns = bpf_ktime_get_ns();
	bpf_probe_read_user_str(s.host, sizeof(s.host), host);
	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(lookup_return)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct start *s = bpf_map_lookup_elem(&starts, &tid);
	struct event *e;

	if (!s)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop();
		goto out;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->delta_ns = e->ts_ns - s->ts_ns;
	e->pid = id >> 32;
	e->pad = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	__builtin_memcpy(e->host, s->host, sizeof(e->host));
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
