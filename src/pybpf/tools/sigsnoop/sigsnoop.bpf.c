// SPDX-License-Identifier: GPL-2.0
/* sigsnoop: every signal generated, by anyone (kill, the kernel, a fault), from the
 * signal:signal_generate tracepoint. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "sigsnoop.h"

const volatile int targ_sig = 0;
const volatile __u32 targ_tpid = 0;
const volatile bool failed_only = false;

RINGBUF_MAP(events, 256 * 1024);

SEC("tracepoint/signal/signal_generate")
int generate(struct trace_event_raw_signal_generate *ctx)
{
	int sig = ctx->sig, res = ctx->result;
	__u32 tpid = ctx->pid;
	struct event *e;

	if (targ_sig && sig != targ_sig)
		return 0;
	if (targ_tpid && tpid != targ_tpid)
		return 0;
	if (failed_only && res == 0)
		return 0;
	if (!current_wanted())
		return 0;
	e = stamped_event(&events, e);
	if (!e)
		return 0;
	e->tpid = tpid;
	e->sig = sig;
	e->ret = res;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
