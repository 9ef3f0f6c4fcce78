// SPDX-License-Identifier: GPL-2.0
/* killsnoop: kill(), tkill() and tgkill() with their results, from syscall tracepoints. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "killsnoop.h"

const volatile bool failed_only = false;
const volatile int targ_sig = 0;
const volatile int targ_tpid = 0;    /* -T: the receiving pid (or tid) only */

/* The calls in flight, by thread.  kill() and friends never sleep for long, so the
 * entries in use are bounded by the threads inside one of them at once: 1024 rather than
 * libbpf-tools' 10240, as a hash map is preallocated whole at every start (the tool's
 * MAP_CREATE time went 0.78 -> 0.21 ms: bench/RESULTS.md, hkill).  A full map counts a
 * drop. */
HASH_MAP(start, __u32, struct event, 1024);
RINGBUF_MAP(events, 256 * 1024);

static __always_inline int enter(__u32 tpid, int sig)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct event e = {};

	if (targ_sig && sig != targ_sig)
		return 0;
	if (targ_tpid && (int)tpid != targ_tpid)
		return 0;
	if (!current_wanted())
		return 0;
	e.pid = id >> 32;
	e.tpid = tpid;
	e.sig = sig;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	if (bpf_map_update_elem(&start, &tid, &e, BPF_ANY))
		count_drop();
	return 0;
}

static __always_inline int leave(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&start, &tid);

	if (!e)
		return 0;
	if (!failed_only || ret < 0) {
		e->ret = ret;
		e->ts_ns = bpf_ktime_get_ns();
		if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
			count_drop();
	}
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/* kill(pid, sig) and tkill(tid, sig) read the same arguments: one program, which the
 * front also attaches to sys_enter_tkill. */
SEC("tracepoint/syscalls/sys_enter_kill")
int tp_enter_kill(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx->args[0], ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int tp_enter_tgkill(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx->args[1], ctx->args[2]);
}

/* The three syscalls end alike: one program, which the front also attaches to
 * sys_exit_tkill and sys_exit_tgkill (a start verifies 3 programs, not 6). */
SEC("tracepoint/syscalls/sys_exit_kill")
int tp_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
