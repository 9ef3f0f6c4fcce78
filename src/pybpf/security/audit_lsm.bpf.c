// SPDX-License-Identifier: GPL-2.0
/* pybpf audit: `deny` rules, on BPF LSM hooks (kernels booted with lsm=...,bpf).  The
 * maps are audit.bpf.c's own (reused by fd): one policy, one event stream.  A tracepoint
 * can only kill after the fact; an LSM hook makes the call itself fail with EPERM. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "audit_lib.h"

#define EPERM 1

/* Does the path in s->key hit a deny rule in `table`?  Fills the event if so. */
static __always_inline int deny(struct scratch *s, void *table, __u32 kind, int n,
				__u32 flags, __u32 fmode)
{
	struct event_head *h = &s->ev.h;
	__u32 *found, rid;
	struct rule *r;

	found = bpf_map_lookup_elem(table, &s->key);
	if (!found)
		return 0;
	rid = *found;
	fill_head(h, kind);
	r = rule_for(rid, h->uid);
	if (!r || r->action != ACT_DENY)
		return 0;
	if (kind == EV_OPEN && (r->access & 3) && !(r->access & 3 & fmode))
		return 0;
	h->rule = rid;
	h->action = ACT_DENY;
	h->flags = flags;
	h->ret = -EPERM;
	h->args[1] = fmode;
	if (n <= 0 || n >= PATH_LEN)
		n = 0;
	bpf_probe_read_kernel(s->ev.data, (n + 1) & (PATH_LEN - 1), s->key.path);
	s->ev.data[n & (PATH_LEN - 1)] = 0;
	h->args[0] = kind == EV_EXEC ? n + 1 : 0;
	h->data_len = n + 1;
	emit(&s->ev, (sizeof(*h) + h->data_len) & EVENT_MASK);
	return -EPERM;
}

/* before the new image replaces the caller's: execve() returns EPERM */
SEC("lsm/bprm_check_security")
int BPF_PROG(audit_deny_exec, struct linux_binprm *bprm, int ret)
{
	struct scratch *s = get_scratch();
	__u32 flags = 0;
	int n;

	if (ret || !s)
		return ret;
	n = resolve_path(s, &bprm->file->f_path, &flags);
	if (n <= 0)
		return 0;
	return deny(s, &exec_paths, EV_EXEC, n, flags, 0);
}

SEC("lsm/file_open")
int BPF_PROG(audit_deny_open, struct file *file, int ret)
{
	struct settings *cfg = get_config();
	struct scratch *s = get_scratch();
	__u32 flags = 0;
	int n;

	if (ret || !s || !cfg || !cfg->open_watched)
		return ret;
	n = resolve_path(s, &file->f_path, &flags);
	if (n <= 0)
		return 0;
	return deny(s, &open_paths, EV_OPEN, n, flags, file->f_mode);
}

char LICENSE[] SEC("license") = "GPL";
