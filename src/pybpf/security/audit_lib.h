/* pybpf audit: helpers shared by the tracepoint programs and the LSM (deny) programs. */
#ifndef PYBPF_AUDIT_LIB_H
#define PYBPF_AUDIT_LIB_H

#include "audit.h"

#define PATH_DEPTH 24         /* path components (and mount crossings) walked */

static __always_inline struct settings *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/* The rule `rid` if it holds for this task (uid condition), else NULL. */
static __always_inline struct rule *rule_for(__u32 rid, __u32 uid)
{
	struct rule *r;

	if (!rid || rid >= MAX_RULES)
		return NULL;
	r = bpf_map_lookup_elem(&rules, &rid);
	if (!r || !r->action)
		return NULL;
	if (r->uid != (__u32)-1 && r->uid != uid)
		return NULL;
	return r;
}

static __always_inline __u32 kind_rule(__u32 kind)
{
	__u32 *rid = bpf_map_lookup_elem(&kind_rules, &kind);
	return rid ? *rid : 0;
}

/* Should an event without a rule be reported? (kind on, uid and cgroup filters) */
static __always_inline bool wanted(struct settings *cfg, __u32 kind, __u32 uid, __u64 cgid)
{
	if (!(cfg->kinds & (1u << kind)))
		return false;
	if (cfg->filter_uid && !bpf_map_lookup_elem(&uids, &uid))
		return false;
	if (cfg->filter_cgroup && !bpf_map_lookup_elem(&cgroups, &cgid))
		return false;
	return true;
}

/* The context every event carries: ids, credentials, cgroup, comm, ancestors. */
static __always_inline void fill_head(struct event_head *h, __u32 kind)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *p;
	__u64 id = bpf_get_current_pid_tgid();
	int i;

	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->kind = kind;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->uid = BPF_CORE_READ(task, cred, uid.val);
	h->euid = BPF_CORE_READ(task, cred, euid.val);
	h->gid = BPF_CORE_READ(task, cred, gid.val);
	h->egid = BPF_CORE_READ(task, cred, egid.val);
	h->rule = 0;
	h->action = 0;
	h->flags = 0;
	h->ret = 0;
	h->data_len = 0;
	h->args[0] = h->args[1] = h->args[2] = h->args[3] = 0;
	bpf_get_current_comm(&h->comm, sizeof(h->comm));
	p = task;
	for (i = 0; i < NPARENTS; i++) {
		p = BPF_CORE_READ(p, real_parent);
		if (!p) {
			h->parents[i].pid = 0;
			h->parents[i].comm[0] = 0;
			continue;
		}
		h->parents[i].pid = BPF_CORE_READ(p, tgid);
		BPF_CORE_READ_STR_INTO(&h->parents[i].comm, p, comm);
	}
	h->ppid = h->parents[0].pid;
}

/* Apply a matched rule's action where a tracepoint can: SIGKILL to the current task,
 * delivered on its way back to user space (before it runs another instruction). */
static __always_inline void act(struct event_head *h, __u32 rid, struct rule *r)
{
	h->rule = rid;
	h->action = r->action;
	if (r->action == ACT_KILL)
		bpf_send_signal(9);
}

/* The absolute path of `path` (dentries walked up to the root of the first mount
 * namespace, crossing mounts), assembled backwards in s->buf and copied into
 * s->key.path.  Returns its length without the NUL (0: unknown). */
static __always_inline int resolve_path(struct scratch *s, const struct path *path, __u32 *flags)
{
	struct dentry *d = BPF_CORE_READ(path, dentry);
	struct vfsmount *vm = BPF_CORE_READ(path, mnt);
	struct mount *m = (struct mount *)((void *)vm - bpf_core_field_offset(struct mount, mnt));
	int pos;
	int i;

	if (!d)
		return 0;
	s->buf[PATH_LEN - 1] = 0;
	s->pos = PATH_LEN - 1;
	for (i = 0; i < PATH_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		struct dentry *mroot = BPF_CORE_READ(m, mnt.mnt_root);

		if (d == mroot) {
			struct mount *mp = BPF_CORE_READ(m, mnt_parent);

			if (m == mp)
				break;              /* the root of it all */
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = mp;
			continue;
		}
		/* a dentry that is its own parent off a mount's root is a pseudo file's
		 * (memfd, anonymous files): its name is all there is */
		__u32 len = BPF_CORE_READ(d, d_name.len);
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);

		pos = s->pos;
		if (len == 0)
			break;
		if (len > PATH_LEN - 2 || (int)len + 2 > pos) {   /* pos stays >= 1 */
			*flags |= F_TRUNCATED;
			break;
		}
		pos -= len;
		bpf_probe_read_kernel(&s->buf[pos & (PATH_LEN - 1)], len & (PATH_LEN - 1), name);
		pos -= 1;
		s->buf[pos & (PATH_LEN - 1)] = '/';
		s->pos = pos;
		if (d == parent)
			break;
		d = parent;
	}
	pos = s->pos;
	if (pos == PATH_LEN - 1) {
		pos -= 1;
		s->buf[pos & (PATH_LEN - 1)] = '/';
	}
	__u32 n = PATH_LEN - pos;       /* with the NUL; below PATH_LEN as pos >= 1 */
	if (n == 0 || n >= PATH_LEN)
		return 0;
	barrier_var(n);                 /* clang must not fold the mask below away: */
	n &= PATH_LEN - 1;              /* the verifier needs the bound on this register */
	/* bytes after the NUL are left as they are: a stored key holds a NUL only as its
	 * last byte, so none can match past ours */
	bpf_probe_read_kernel(s->key.path, n, &s->buf[pos & (PATH_LEN - 1)]);
	s->key.prefixlen = PATH_LEN * 8;
	return n - 1;
}

/* Send an event of `size` bytes (head + data); a full ring buffer counts a drop. */
static __always_inline void emit(void *e, __u32 size)
{
	if (size > sizeof(struct event))
		return;
	if (bpf_ringbuf_output(&events, e, size, 0))
		count_drop();
}

#endif
