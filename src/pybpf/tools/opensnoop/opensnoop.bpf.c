// SPDX-License-Identifier: GPL-2.0
/* opensnoop: open(), openat() and openat2() from the syscalls tracepoints; the path is
 * read at syscall exit, when the kernel has already faulted it in. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "opensnoop.h"

#define AT_FDCWD -100

const volatile __u32 targ_uid = (__u32)-1;
const volatile bool failed_only = false;
const volatile bool filter_flags = false;
const volatile __u32 targ_flags = 0;     /* any of these flags set */
const volatile bool targ_rdonly = false; /* or an O_RDONLY open */
const volatile bool full_path = false;   /* -F: send the directory of relative paths */

struct args {
	const char *fname;
	__s32 dirfd;
	__u32 flags;
	__u32 mode;
};

HASH_MAP(start, __u32, struct args, 10240);
RINGBUF_MAP(events, 1024 * 1024);

static __always_inline int enter(const char *fname, int dirfd, __u32 flags, __u32 mode)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct args a = {.fname = fname, .dirfd = dirfd, .flags = flags, .mode = mode};

	if (!current_wanted())
		return 0;
	if (targ_uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	if (filter_flags && !(flags & targ_flags) && !(targ_rdonly && (flags & 3) == 0))
		return 0;
	if (bpf_map_update_elem(&start, &tid, &a, BPF_ANY))
		count_drop();
	return 0;
}

/* The kernel structures -F walks, as local CO-RE flavours with only the fields read
 * (matched to the kernel's by name without the ___os suffix): the real ones would put
 * ~33 KB of kernel types into the object's BTF, which the kernel checks again at every
 * start. */
struct vfsmount___os {
	int mnt_flags;
} __attribute__((preserve_access_index));
struct qstr___os {
	const unsigned char *name;
} __attribute__((preserve_access_index));
struct dentry___os {
	struct dentry___os *d_parent;
	struct qstr___os d_name;
} __attribute__((preserve_access_index));
struct path___os {
	struct vfsmount___os *mnt;
	struct dentry___os *dentry;
} __attribute__((preserve_access_index));
struct mount___os {
	struct mount___os *mnt_parent;
	struct dentry___os *mnt_mountpoint;
	struct vfsmount___os mnt;
} __attribute__((preserve_access_index));
struct fs_struct___os {
	struct path___os pwd;
} __attribute__((preserve_access_index));
struct file___os {
	struct path___os f_path;
} __attribute__((preserve_access_index));
struct fdtable___os {
	unsigned int max_fds;
	struct file___os **fd;
} __attribute__((preserve_access_index));
struct files_struct___os {
	struct fdtable___os *fdt;
} __attribute__((preserve_access_index));
struct task_struct___os {
	struct fs_struct___os *fs;
	struct files_struct___os *files;
} __attribute__((preserve_access_index));

/* The directory a relative open starts from (cwd, or the dirfd's file), walked up to the
 * root across mount points, innermost component first. */
static __always_inline void walk_dir(struct event_full *f, int dirfd)
{
	struct task_struct___os *task = (void *)bpf_get_current_task();
	struct dentry___os *d, *parent;
	struct vfsmount___os *vm;
	struct mount___os *mnt, *mp;
	__u32 n = 0;
	int i;

	if (dirfd == AT_FDCWD) {
		d = BPF_CORE_READ(task, fs, pwd.dentry);
		vm = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct fdtable___os *fdt = BPF_CORE_READ(task, files, fdt);
		struct file___os **fds = BPF_CORE_READ(fdt, fd), *file = NULL;

		if (dirfd < 0 || dirfd >= BPF_CORE_READ(fdt, max_fds))
			goto done;
		bpf_probe_read_kernel(&file, sizeof(file), &fds[dirfd]);
		if (!file)
			goto done;
		d = BPF_CORE_READ(file, f_path.dentry);
		vm = BPF_CORE_READ(file, f_path.mnt);
	}
	mnt = (struct mount___os *)((void *)vm - bpf_core_field_offset(struct mount___os, mnt));
	for (i = 0; i < DIR_DEPTH + 8; i++) {
		parent = BPF_CORE_READ(d, d_parent);
		if (d == parent) {
			/* the root of a mount: continue from where it is mounted */
			mp = BPF_CORE_READ(mnt, mnt_parent);
			if (mp == mnt)
				goto done;
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mp;
			continue;
		}
		if (n >= DIR_DEPTH)
			break;
		bpf_probe_read_kernel_str(f->dir[n], DIR_NAME, BPF_CORE_READ(d, d_name.name));
		n++;
		d = parent;
	}
	f->truncated = 1;
done:
	f->depth = n;
}

static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args *a = bpf_map_lookup_elem(&start, &tid);
	struct event *e;
	char first = 0;

	if (!a)
		return 0;
	if (failed_only && ret >= 0)
		goto out;
	bpf_probe_read_user(&first, 1, a->fname);
	if (full_path && first != '/') {
		struct event_full *f = bpf_ringbuf_reserve(&events, sizeof(*f), 0);

		if (!f) {
			count_drop();
			goto out;
		}
		f->truncated = 0;
		walk_dir(f, a->dirfd);
		e = &f->e;
	} else {
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	}
	if (!e) {
		count_drop();
		goto out;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->dirfd = a->dirfd;
	e->flags = a->flags;
	e->mode = a->mode;
	e->pad = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
		e->fname[0] = '\0';
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tp_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[0], AT_FDCWD, ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], ctx->args[0], ctx->args[2], ctx->args[3]);
}

/* open(), openat() and openat2() end alike: one program, which the front also attaches
 * to sys_exit_open and sys_exit_openat2 (a start verifies 4 programs, not 6). */
SEC("tracepoint/syscalls/sys_exit_openat")
int tp_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tp_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return enter((const char *)ctx->args[1], ctx->args[0], how.flags, how.mode);
}

char LICENSE[] SEC("license") = "GPL";
