// SPDX-License-Identifier: GPL-2.0
/* fentry: kprobe's do_unlinkat() tracing on BPF trampolines (fentry/fexit): typed
 * arguments, and on exit the arguments and the result together. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "fentry.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

__u64 dropped = 0;

static int report(struct filename *name, bool exit, long ret)
{
	struct unlink_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->exit = exit;
	e->ret = ret;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), name->name);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(do_unlinkat, int dfd, struct filename *name)
{
	return report(name, false, 0);
}

SEC("fexit/do_unlinkat")
int BPF_PROG(do_unlinkat_exit, int dfd, struct filename *name, int ret)
{
	return report(name, true, ret);
}
