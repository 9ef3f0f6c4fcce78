// SPDX-License-Identifier: GPL-2.0
/* ksyscall: the kill() and tgkill() system calls with their arguments, whatever the
 * syscall wrapper is called on this architecture and kernel. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ksyscall.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

__u64 dropped = 0;

static int report(int tpid, int ttid, int sig, bool tgkill)
{
	struct signal_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->target_pid = tpid;
	e->target_tid = ttid;
	e->sig = sig;
	e->tgkill = tgkill;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("ksyscall/tgkill")
int BPF_KSYSCALL(tgkill_entry, pid_t tgid, pid_t tid, int sig)
{
	return report(tgid, tid, sig, true);
}

SEC("ksyscall/kill")
int BPF_KSYSCALL(kill_entry, pid_t pid, int sig)
{
	return report(pid, 0, sig, false);
}
