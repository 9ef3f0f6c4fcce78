// SPDX-License-Identifier: GPL-2.0
/* oomkill: OOM killer victims and the task whose allocation triggered them, from the
 * oom:mark_victim tracepoint (it runs in the triggering task). */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "oomkill.h"

RINGBUF_MAP(events, 64 * 1024);

/* the record before 6.2 had only the pid */
struct trace_event_raw_mark_victim___new {
	int pid;
	__u32 __data_loc_comm;
	unsigned long total_vm;
	unsigned long anon_rss;
} __attribute__((preserve_access_index));

SEC("tracepoint/oom/mark_victim")
int mark_victim(void *ctx)
{
	struct trace_event_raw_mark_victim___new *c = ctx;
	struct event *e;
	__u32 loc = 0;
	int pid = 0;

	e = reserve_event(&events, sizeof(*e));
	if (!e)
		return 0;
	bpf_core_read(&pid, sizeof(pid), &c->pid);
	e->ts_ns = bpf_ktime_get_ns();
	e->kpid = pid;
	e->tpid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&e->tcomm, sizeof(e->tcomm));
	e->total_vm_kb = e->anon_rss_kb = 0;
	e->kcomm[0] = '\0';
	if (bpf_core_field_exists(c->__data_loc_comm)) {
		bpf_core_read(&loc, sizeof(loc), &c->__data_loc_comm);
		bpf_probe_read_kernel_str(e->kcomm, sizeof(e->kcomm), (void *)c + (loc & 0xFFFF));
		bpf_core_read(&e->total_vm_kb, sizeof(e->total_vm_kb), &c->total_vm);
		bpf_core_read(&e->anon_rss_kb, sizeof(e->anon_rss_kb), &c->anon_rss);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
