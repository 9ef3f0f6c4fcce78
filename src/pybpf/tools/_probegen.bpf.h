/* What the programs generated for trace's and argdist's probe specifiers share
 * (tools/_probegen.py writes them after the tool's fixed half): the filters, string
 * reads, and the entry record of return probes that use $latency or $entry(). */
#ifndef PYBPF_TOOLS_PROBEGEN_BPF_H
#define PYBPF_TOOLS_PROBEGEN_BPF_H

#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

const volatile __u32 targ_uid = (__u32)-1;   /* --uid */
const volatile __u32 self_tgid = 0;          /* the tool itself, left out (not with -S) */

static __always_inline bool probe_wanted(void)
{
	if (self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return false;
	if (targ_uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return false;
	return current_wanted();
}

/* A NUL-terminated string at src: user memory (the usual case: a uprobe's or a syscall
 * tracepoint's pointer), else kernel memory; empty when neither reads. */
static __always_inline void read_str(char *dst, __u32 size, const void *src)
{
	if (bpf_probe_read_user_str(dst, size, src) < 0 &&
	    bpf_probe_read_kernel_str(dst, size, src) < 0)
		dst[0] = '\0';
}

/* A call in flight, for a return probe: its start and its arguments. */
struct probe_entry {
	__u64 ts;
	__u64 args[6];
};

#endif
