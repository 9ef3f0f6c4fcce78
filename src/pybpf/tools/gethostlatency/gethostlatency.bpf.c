// SPDX-License-Identifier: GPL-2.0
/* gethostlatency: latency of host name lookups (getaddrinfo, gethostbyname,
 * gethostbyname2) from uprobes and uretprobes on the C library. */
#include "vmlinux.h"
#include <bpf/bpf_tracing.h>
#include "../_common.bpf.h"
#include "gethostlatency.h"

HASH_MAP(starts, __u32, struct start, 10240);
RINGBUF_MAP(events, 256 * 1024);

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
	e = reserve_event(&events, sizeof(*e));
	if (!e)
		goto out;
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
