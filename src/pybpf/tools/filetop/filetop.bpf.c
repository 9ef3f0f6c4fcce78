// SPDX-License-Identifier: GPL-2.0
/* filetop: reads and writes per file and thread, from the read/write syscall
 * tracepoints (bcc hooks vfs_read/vfs_write with kprobes): the file is found through
 * the descriptor, the bytes are the syscall's result. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "filetop.h"

#define S_IFMT 00170000
#define S_IFREG 0100000
#define S_IFSOCK 0140000

const volatile bool regular_only = true;
/* -d: only files whose parent directory has this inode number (bcc compares the
 * number only: btrfs subvolumes show user space another device than the sb's s_dev) */
const volatile __u64 dir_ino = 0;

HASH_MAP(start, __u32, struct pending, 10240);
HASH_MAP(counts, struct file_key, struct file_val, 10240);

static __always_inline int enter(int fd, int write)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending p = {.fd = fd, .write = write};

	if (!current_wanted())
		return 0;
	bpf_map_update_elem(&start, &tid, &p, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct pending *p = bpf_map_lookup_elem(&start, &tid);
	struct task_struct *task;
	struct fdtable *fdt;
	struct file **fds, *file = NULL;
	struct dentry *dentry;
	struct inode *inode;
	struct file_key key = {};
	struct file_val *v, zero = {};
	__u32 mode;
	int fd, write;

	if (!p)
		return 0;
	fd = p->fd;
	write = p->write;
	bpf_map_delete_elem(&start, &tid);
	if (ret < 0)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	fdt = BPF_CORE_READ(task, files, fdt);
	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	mode = BPF_CORE_READ(inode, i_mode);
	key.type = (mode & S_IFMT) == S_IFREG ? 'R' : (mode & S_IFMT) == S_IFSOCK ? 'S' : 'O';
	if (regular_only && key.type != 'R')
		return 0;
	dentry = BPF_CORE_READ(file, f_path.dentry);
	if (dir_ino) {
		if (BPF_CORE_READ(dentry, d_parent, d_inode, i_ino) != dir_ino)
			return 0;
	}
	key.pid = id >> 32;
	key.tid = tid;
	key.ino = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	bpf_probe_read_kernel_str(key.name, sizeof(key.name), BPF_CORE_READ(dentry, d_name.name));
	v = lookup_or_init(&counts, &key, &zero);
	if (!v)
		return 0;
	if (write) {
		__sync_fetch_and_add(&v->writes, 1);
		__sync_fetch_and_add(&v->wbytes, ret);
	} else {
		__sync_fetch_and_add(&v->reads, 1);
		__sync_fetch_and_add(&v->rbytes, ret);
	}
	return 0;
}

#define RW_PAIR(call, write)                                                    \
SEC("tracepoint/syscalls/sys_enter_" #call)                                     \
int enter_##call(struct trace_event_raw_sys_enter *ctx)                         \
{                                                                               \
	return enter(ctx->args[0], write);                                     \
}                                                                               \
SEC("tracepoint/syscalls/sys_exit_" #call)                                      \
int exit_##call(struct trace_event_raw_sys_exit *ctx)                           \
{                                                                               \
	return leave(ctx->ret);                                                \
}

RW_PAIR(read, 0)
RW_PAIR(pread64, 0)
RW_PAIR(readv, 0)
RW_PAIR(preadv, 0)
RW_PAIR(write, 1)
RW_PAIR(pwrite64, 1)
RW_PAIR(writev, 1)
RW_PAIR(pwritev, 1)

char LICENSE[] SEC("license") = "GPL";
