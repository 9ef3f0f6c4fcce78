// SPDX-License-Identifier: GPL-2.0
/* pybpf sslsniff: the plaintext of TLS reads and writes, from uprobes on the TLS
 * libraries' read/write functions.  All of them look alike: (ctx, buf, num) returning
 * the bytes moved, except OpenSSL's *_ex, which store the count through a 4th argument
 * and return 1; a read's buffer holds the data only at return, so entry and return are
 * paired by thread. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sslsniff.h"

const volatile __u32 targ_pid = 0;
const volatile __u32 targ_uid = (__u32)-1;
const volatile __u32 max_buf = 8192;

struct call {
	__u64 buf;
	__u64 count_ptr;      /* *_ex: where the byte count goes */
	__u64 ts_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct call);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

#include "drops.bpf.h"      /* drops, count_drop() */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_event);
} scratch SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(tls_enter, void *ctx_, void *buf, __u64 num, void *count_ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct call c = {};

	if (targ_pid && (id >> 32) != targ_pid)
		return 0;
	if (targ_uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	c.buf = (__u64)buf;
	c.count_ptr = (cookie & C_EX) ? (__u64)count_ptr : 0;
	c.ts_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(tls_exit, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 cookie = bpf_get_attach_cookie(ctx);
	struct call *c = bpf_map_lookup_elem(&calls, &id);
	struct tls_event *e;
	__u32 zero = 0;
	/* OpenSSL's and NSPR's functions return an int (the upper half of the register is
	 * not theirs: -1 may read as 4294967295); gnutls_record_* return an ssize_t */
	long len = (cookie >> C_LIB_SHIFT) == 2 ? ret : (long)(int)ret;
	__u32 n;

	if (!c)
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		goto out;
	if ((cookie & C_DIR_MASK) != 2) {
		if (cookie & C_EX) {
			__u64 count = 0;

			if ((int)ret != 1 || bpf_probe_read_user(&count, sizeof(count),
							    (void *)c->count_ptr))
				goto out;
			len = count;
		}
		if (len <= 0)
			goto out;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->delta_ns = e->ts_ns - c->ts_ns;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->len = len;
	e->cookie = cookie;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	n = 0;
	if ((cookie & C_DIR_MASK) != 2) {
		n = len < max_buf ? len : max_buf;
		if (n > MAX_DATA - 1)
			n = MAX_DATA - 1;
		barrier_var(n);
		n &= MAX_DATA - 1;
		if (n && bpf_probe_read_user(e->data, n, (void *)c->buf))
			n = 0;
	}
	e->copied = n;
	n = (sizeof(*e) - MAX_DATA + n) & (2 * MAX_DATA - 1);
	if (n <= sizeof(*e) && bpf_ringbuf_output(&events, e, n, 0))
		count_drop();
out:
	bpf_map_delete_elem(&calls, &id);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
