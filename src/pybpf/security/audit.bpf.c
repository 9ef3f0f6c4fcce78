// SPDX-License-Identifier: GPL-2.0
/* pybpf audit: security events from tracepoints only (no kprobes needed), filtered and
 * matched against the policy's tables in the kernel; `kill` rules act here with
 * bpf_send_signal().  `deny` rules live in audit_lsm.bpf.c (BPF LSM). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "audit_lib.h"

#define EINPROGRESS 115

/* syscall enter -> exit, for events that report the call's result */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

/* connect(): the fd, from entry to exit (the socket is looked up once connected) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u32);
} connecting SEC(".maps");

/* ---- exec ----------------------------------------------------------------------- */

/* sched_process_exec fires once the new image is in place and before it runs its
 * first instruction: a SIGKILL sent here kills it before it does anything. */
SEC("tracepoint/sched/sched_process_exec")
int audit_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct settings *cfg = get_config();
	struct scratch *s = get_scratch();
	struct event_head *h;
	struct rule *r = NULL;
	__u32 rid = 0, *found;
	struct file *exe;
	int n;

	if (!cfg || !s)
		return 0;
	h = &s->ev.h;
	fill_head(h, EV_EXEC);
	if (h->pid == cfg->self_tgid)
		return 0;

	exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return 0;
	n = resolve_path(s, &exe->f_path, &h->flags);
	if (BPF_CORE_READ(exe, f_inode, __i_nlink) == 0) {
		/* memfd_create() files carry the name "memfd:<name>" */
		char head[6] = {};
		bpf_probe_read_kernel(head, sizeof(head),
				      BPF_CORE_READ(exe, f_path.dentry, d_name.name));
		if (head[0] == 'm' && head[1] == 'e' && head[2] == 'm' && head[3] == 'f' &&
		    head[4] == 'd' && head[5] == ':')
			h->flags |= F_MEMFD;
		else
			h->flags |= F_DELETED;
	}

	/* data: the binary's real path, NUL, the file name exec() was given (a script's,
	 * where the binary is its interpreter), NUL, then argv as NUL-separated strings */
	if (n <= 0 || n >= PATH_LEN)
		n = 0;
	bpf_probe_read_kernel(s->ev.data, (n + 1) & (PATH_LEN - 1), s->key.path);
	s->ev.data[n & (PATH_LEN - 1)] = 0;
	h->args[0] = n + 1;
	if (n > 0) {
		found = bpf_map_lookup_elem(&exec_paths, &s->key);
		if (found) {
			rid = *found;
			r = rule_for(rid, h->uid);
		}
	}
	long fl = bpf_probe_read_kernel_str(s->key.path, PATH_LEN - 1,
					    (void *)ctx + (ctx->__data_loc_filename & 0xffff));
	if (fl <= 0 || fl >= PATH_LEN) {
		fl = 1;
		s->key.path[0] = 0;
	}
	if (!r && s->key.path[0] == '/') {
		found = bpf_map_lookup_elem(&exec_paths, &s->key);
		if (found) {
			rid = *found;
			r = rule_for(rid, h->uid);
		}
	}
	__u32 at = (n + 1) & (PATH_LEN - 1);
	bpf_probe_read_kernel(&s->ev.data[at], fl & (PATH_LEN - 1), s->key.path);
	s->ev.data[(at + fl - 1) & (2 * PATH_LEN - 1)] = 0;
	h->args[2] = fl;
	if (!r && (h->flags & (F_MEMFD | F_DELETED)) && cfg->memfd_rule) {
		rid = cfg->memfd_rule;
		r = rule_for(rid, h->uid);
	}
	if (!r) {
		rid = kind_rule(EV_EXEC);
		r = rule_for(rid, h->uid);
	}
	if (r)
		act(h, rid, r);
	else if (!wanted(cfg, EV_EXEC, h->uid, h->cgroup_id))
		return 0;

	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	unsigned long len = end > start ? end - start : 0;

	if (len > ARGV_LEN - 1) {
		len = ARGV_LEN - 1;
		h->flags |= F_TRUNCATED;
	}
	at = (at + fl) & (2 * PATH_LEN - 1);
	if (len && bpf_probe_read_user(&s->ev.data[at], len & (ARGV_LEN - 1), (void *)start))
		len = 0;
	h->args[1] = len;
	h->data_len = at + len;
	emit(&s->ev, (sizeof(*h) + h->data_len) & EVENT_MASK);
	return 0;
}

/* ---- opens of watched paths -------------------------------------------------------- */

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	struct file *f = NULL;

	if (fd < 0 || fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline bool access_matches(struct rule *r, __u32 fmode)
{
	/* FMODE_READ 1, FMODE_WRITE 2: the intent the file was opened with */
	__u32 want = r->access & 3;
	return !want || (want & fmode);
}

/* Matched at exit on the opened file's real path (relative paths, symlinks and ".."
 * resolved), with the intent the file was opened with. */
static __always_inline int open_exit(long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct settings *cfg = get_config();
	struct scratch *s;
	struct event_head *h;
	struct rule *r = NULL;
	struct file *f;
	__u32 *found, rid;
	int n;

	if (ret < 0 || !cfg || !cfg->open_watched)
		return 0;
	if ((bpf_get_current_pid_tgid() >> 32) == cfg->self_tgid)
		return 0;
	s = get_scratch();
	f = fd_file(task, ret);
	if (!s || !f)
		return 0;
	__u32 flags = 0;
	n = resolve_path(s, &f->f_path, &flags);
	if (n <= 0 || n >= PATH_LEN)
		return 0;
	found = bpf_map_lookup_elem(&open_paths, &s->key);
	if (!found)
		return 0;
	h = &s->ev.h;
	fill_head(h, EV_OPEN);
	h->flags = flags;
	rid = *found;
	__u32 fmode = BPF_CORE_READ(f, f_mode);
	r = rule_for(rid, h->uid);
	if (r && !access_matches(r, fmode))
		r = NULL;
	if (r)
		act(h, rid, r);
	else if (!wanted(cfg, EV_OPEN, h->uid, h->cgroup_id))
		return 0;
	h->ret = ret;
	h->args[0] = BPF_CORE_READ(f, f_flags);
	h->args[1] = fmode;
	bpf_probe_read_kernel(s->ev.data, (n + 1) & (PATH_LEN - 1), s->key.path);
	h->data_len = n + 1;
	emit(&s->ev, (sizeof(*h) + h->data_len) & EVENT_MASK);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int audit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int audit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open")
int audit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int audit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

/* ---- TCP connections --------------------------------------------------------------- */

/* Addresses and ports of a TCP socket; false when `f` is not a TCP socket. */
static __always_inline bool sock_event(struct event *e, struct file *f, __u32 kind)
{
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u16 family, proto;

	if (!sk)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto != 6 || (family != 2 && family != 10))   /* IPPROTO_TCP, AF_INET(6) */
		return false;
	e->h.args[0] = family;
	e->h.args[1] = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->h.args[2] = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == 2) {
		__builtin_memset(e->data, 0, 32);
		bpf_probe_read_kernel(e->data, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_probe_read_kernel(&e->data[16], 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_probe_read_kernel(e->data, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(&e->data[16], 16, &sk->__sk_common.skc_v6_daddr);
	}
	e->h.data_len = 32;
	return true;
}

static __always_inline int sock_report(long fd, long ret, __u32 kind)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct settings *cfg = get_config();
	struct scratch *s = get_scratch();
	struct event_head *h;
	struct rule *r = NULL;
	struct file *f;
	__u32 *found, rid = 0;

	if (!cfg || !s)
		return 0;
	if ((bpf_get_current_pid_tgid() >> 32) == cfg->self_tgid)
		return 0;
	f = fd_file(task, fd);
	if (!f)
		return 0;
	h = &s->ev.h;
	fill_head(h, kind);
	if (!sock_event(&s->ev, f, kind))
		return 0;
	struct port_key pk = {
		.port = kind == EV_CONNECT ? h->args[2] : h->args[1],
		.dir = kind,
	};
	found = bpf_map_lookup_elem(&port_rules, &pk);
	if (found) {
		rid = *found;
		r = rule_for(rid, h->uid);
	}
	if (!r) {
		rid = kind_rule(kind);
		r = rule_for(rid, h->uid);
	}
	if (r)
		act(h, rid, r);
	else if (!wanted(cfg, kind, h->uid, h->cgroup_id))
		return 0;
	h->ret = ret;
	emit(&s->ev, sizeof(*h) + 32);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int audit_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 fd = ctx->args[0];

	bpf_map_update_elem(&connecting, &tid, &fd, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int audit_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *fd = bpf_map_lookup_elem(&connecting, &tid);
	long ret = ctx->ret;
	__u32 f;

	if (!fd)
		return 0;
	f = *fd;
	bpf_map_delete_elem(&connecting, &tid);
	/* a non-blocking connect() is under way when it says EINPROGRESS */
	if (ret == 0 || ret == -EINPROGRESS)
		sock_report(f, ret, EV_CONNECT);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int audit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret >= 0)
		sock_report(ctx->ret, ctx->ret, EV_ACCEPT);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int audit_accept(struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret >= 0)
		sock_report(ctx->ret, ctx->ret, EV_ACCEPT);
	return 0;
}

/* ---- syscalls reported with their result: privileges, bpf(), ptrace ----------------- */

/* Match and (kill) at entry; the event waits in `pending` for the result. */
static __always_inline int call_enter(__u32 kind, __u64 a0, __u64 a1, __u64 a2, __u64 a3,
				      __u32 match_arg)
{
	struct settings *cfg = get_config();
	struct pending *p;
	struct rule *r;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 rid;
	struct scratch *s = get_scratch();

	if (!cfg || !s)
		return 0;
	if ((bpf_get_current_pid_tgid() >> 32) == cfg->self_tgid)
		return 0;
	/* build in scratch, then copy into the table (the stack is too small) */
	p = (struct pending *)&s->ev;
	fill_head(&p->h, kind);
	p->h.args[0] = a0;
	p->h.args[1] = a1;
	p->h.args[2] = a2;
	p->h.args[3] = a3;
	rid = kind_rule(kind);
	r = rule_for(rid, p->h.uid);
	if (r && r->arg != (__u32)-1 && kind == EV_PRIV) {
		/* "setuid to 0": the id asked for is any of the call's id arguments */
		__u32 n = a3 == PRIV_SETRESUID || a3 == PRIV_SETRESGID ? 3 :
			  a3 == PRIV_SETREUID || a3 == PRIV_SETREGID ? 2 :
			  a3 == PRIV_CAPSET ? 0 : 1;
		if (!((n >= 1 && (__u32)a0 == r->arg) || (n >= 2 && (__u32)a1 == r->arg) ||
		      (n >= 3 && (__u32)a2 == r->arg)))
			r = NULL;
	}
	if (r && r->arg != (__u32)-1 && kind != EV_PRIV && r->arg != match_arg)
		r = NULL;
	if (r)
		act(&p->h, rid, r);
	else if (!wanted(cfg, kind, p->h.uid, p->h.cgroup_id))
		return 0;
	if (bpf_map_update_elem(&pending, &tid, p, BPF_ANY))
		count_drop();
	return 0;
}

static __always_inline int call_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);

	if (!p)
		return 0;
	p->h.ret = ret;
	if (p->h.data_len > sizeof(p->data))
		p->h.data_len = 0;
	emit(p, (sizeof(p->h) + p->h.data_len) & PENDING_MASK);
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

#define PRIV_CALL(call, which, nargs)                                              \
SEC("tracepoint/syscalls/sys_enter_" #call)                                        \
int audit_enter_##call(struct trace_event_raw_sys_enter *ctx)                      \
{                                                                                  \
	return call_enter(EV_PRIV, ctx->args[0], nargs > 1 ? ctx->args[1] : -1,    \
			  nargs > 2 ? ctx->args[2] : -1, which, 0);                \
}                                                                                  \
SEC("tracepoint/syscalls/sys_exit_" #call)                                         \
int audit_exit_##call(struct trace_event_raw_sys_exit *ctx)                        \
{                                                                                  \
	return call_exit(ctx->ret);                                                \
}

PRIV_CALL(setuid, PRIV_SETUID, 1)
PRIV_CALL(setgid, PRIV_SETGID, 1)
PRIV_CALL(setreuid, PRIV_SETREUID, 2)
PRIV_CALL(setregid, PRIV_SETREGID, 2)
PRIV_CALL(setresuid, PRIV_SETRESUID, 3)
PRIV_CALL(setresgid, PRIV_SETRESGID, 3)
PRIV_CALL(setfsuid, PRIV_SETFSUID, 1)
PRIV_CALL(setfsgid, PRIV_SETFSGID, 1)

/* capset(header, data): the effective, permitted and inheritable sets asked for (the
 * low 32 capabilities, data[0]) */
SEC("tracepoint/syscalls/sys_enter_capset")
int audit_enter_capset(struct trace_event_raw_sys_enter *ctx)
{
	__u32 caps[3] = {};

	bpf_probe_read_user(caps, sizeof(caps), (void *)ctx->args[1]);
	return call_enter(EV_PRIV, caps[0], caps[1], caps[2], PRIV_CAPSET, 0);
}

SEC("tracepoint/syscalls/sys_exit_capset")
int audit_exit_capset(struct trace_event_raw_sys_exit *ctx)
{
	return call_exit(ctx->ret);
}

/* bpf(): program loads and attachments (not map reads: those are every tool's daily
 * bread); a PROG_LOAD carries the program type and name. */
SEC("tracepoint/syscalls/sys_enter_bpf")
int audit_enter_bpf(struct trace_event_raw_sys_enter *ctx)
{
	__u32 cmd = ctx->args[0];
	union bpf_attr *attr = (union bpf_attr *)ctx->args[1];
	__u32 prog_type = 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p;

	/* BPF_PROG_LOAD 5, PROG_ATTACH 8, RAW_TRACEPOINT_OPEN 17, LINK_CREATE 28 */
	if (cmd != 5 && cmd != 8 && cmd != 17 && cmd != 28)
		return 0;
	if (cmd == 5)
		bpf_probe_read_user(&prog_type, sizeof(prog_type), &attr->prog_type);
	call_enter(EV_BPF, cmd, prog_type, 0, 0, cmd);
	if (cmd == 5 && (p = bpf_map_lookup_elem(&pending, &tid))) {
		bpf_probe_read_user_str(p->data, 16, attr->prog_name);
		p->h.data_len = 16;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bpf")
int audit_exit_bpf(struct trace_event_raw_sys_exit *ctx)
{
	return call_exit(ctx->ret);
}

/* ptrace(): requests that take hold of another process or write into it */
SEC("tracepoint/syscalls/sys_enter_ptrace")
int audit_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	long req = ctx->args[0];

	/* TRACEME 0, POKETEXT 4, POKEDATA 5, POKEUSER 6, ATTACH 16, SEIZE 0x4206 */
	if (req != 0 && req != 4 && req != 5 && req != 6 && req != 16 && req != 0x4206)
		return 0;
	return call_enter(EV_PTRACE, req, ctx->args[1], 0, 0, req);
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int audit_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	return call_exit(ctx->ret);
}

/* ---- kernel modules (kernels with loadable modules only) ------------------------------ */

/* the tracepoint's record (its format is stable ABI; spelled out here because a kernel
 * without modules has no such type in its BTF) */
struct module_load_args {
	__u64 common;
	__u32 taints;
	__u32 __data_loc_name;
};

SEC("tracepoint/module/module_load")
int audit_module(struct module_load_args *ctx)
{
	struct settings *cfg = get_config();
	struct scratch *s = get_scratch();
	struct event_head *h;
	struct rule *r = NULL;
	__u32 *found, rid = 0;
	char name[56] = {};
	unsigned off = ctx->__data_loc_name & 0xffff;

	if (!cfg || !s)
		return 0;
	bpf_probe_read_kernel_str(name, sizeof(name), (void *)ctx + off);
	h = &s->ev.h;
	fill_head(h, EV_MODULE);
	found = bpf_map_lookup_elem(&module_rules, name);
	if (found) {
		rid = *found;
		r = rule_for(rid, h->uid);
	}
	if (!r) {
		rid = kind_rule(EV_MODULE);
		r = rule_for(rid, h->uid);
	}
	if (r)
		act(h, rid, r);
	else if (!wanted(cfg, EV_MODULE, h->uid, h->cgroup_id))
		return 0;
	h->args[0] = ctx->taints;
	__builtin_memcpy(s->ev.data, name, sizeof(name));
	h->data_len = sizeof(name);
	emit(&s->ev, sizeof(*h) + sizeof(name));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
