// SPDX-License-Identifier: GPL-2.0
/* fentry/fexit/fmod_ret with .kconfig and __ksym externs, a bpf_loop callback. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig __weak;
extern const struct rq runqueues __ksym;
extern const void bpf_prog_active __ksym __weak;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

__u64 result;

static int loop_cb(__u32 i, void *ctx)
{
	result += i;
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(fe, int dfd)
{
	struct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf());

	if (t)
		bpf_task_release(t);
	if (LINUX_KERNEL_VERSION > 0 && CONFIG_BPF_SYSCALL)
		result = CONFIG_HZ + CONFIG_BPF_JIT;
	result += (__u64)&runqueues + (__u64)&bpf_prog_active;
	bpf_loop(4, loop_cb, 0, 0);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(fx, int dfd, struct filename *name, long ret) { return 0; }

SEC("fmod_ret/security_file_open")
int BPF_PROG(fm, struct file *file) { return 0; }

SEC("fentry.s/bpf_fentry_test1")
int BPF_PROG(fs, int a) { return 0; }

char LICENSE[] SEC("license") = "GPL";
