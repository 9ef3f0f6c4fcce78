// SPDX-License-Identifier: GPL-2.0
/* memleak: allocations not yet freed, with the stack that made them.  User mode (-p):
 * uprobes on the C library's malloc family; kernel mode: the kmem tracepoints. */
#include "vmlinux.h"
#include <bpf/bpf_tracing.h>
#include "../_common.bpf.h"
#include "../_stacks.bpf.h"
#include "memleak.h"

const volatile __u64 min_size = 0;
const volatile __u64 max_size = (__u64)-1;
const volatile __u64 sample_every = 1;
const volatile bool user_stacks = true;
const volatile bool combined = false;          /* --combined-only */
const volatile bool wa_missing_free = false;   /* --wa-missing-free (kernel mode) */

HASH_MAP(sizes, __u32, __u64, 10240);
HASH_MAP(allocs, __u64, struct alloc_info, 1000000);
HASH_MAP(combined_allocs, __u64, struct combined_info, 10240);

static __always_inline void combined_add(__s32 stack_id, __u64 size)
{
	__u64 key = (__u64)(__s64)stack_id;
	struct combined_info *c = bpf_map_lookup_elem(&combined_allocs, &key), init = {};

	if (!c) {
		init.total_size = size;
		init.number_of_allocs = 1;
		if (bpf_map_update_elem(&combined_allocs, &key, &init, BPF_NOEXIST))
			count_drop();
		return;
	}
	__sync_fetch_and_add(&c->total_size, size);
	__sync_fetch_and_add(&c->number_of_allocs, 1);
}

static __always_inline void combined_sub(__s32 stack_id, __u64 size)
{
	__u64 key = (__u64)(__s64)stack_id;
	struct combined_info *c = bpf_map_lookup_elem(&combined_allocs, &key);

	if (!c)
		return;
	if (c->number_of_allocs <= 1) {
		bpf_map_delete_elem(&combined_allocs, &key);
		return;
	}
	__sync_fetch_and_sub(&c->total_size, size);
	__sync_fetch_and_sub(&c->number_of_allocs, 1);
}

static __always_inline int alloc_enter(__u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (size < min_size || size > max_size)
		return 0;
	if (sample_every > 1 && bpf_ktime_get_ns() % sample_every)
		return 0;
	if (!current_wanted())
		return 0;
	bpf_map_update_elem(&sizes, &tid, &size, BPF_ANY);
	return 0;
}

static __always_inline int alloc_exit(void *ctx, __u64 addr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *size = bpf_map_lookup_elem(&sizes, &tid);
	struct alloc_info info = {};

	if (!size)
		return 0;
	info.size = *size;
	bpf_map_delete_elem(&sizes, &tid);
	if (!addr)
		return 0;
	info.ts_ns = bpf_ktime_get_ns();
	info.pid = bpf_get_current_pid_tgid() >> 32;
	info.stack_id = bpf_get_stackid(ctx, &stacks, user_stacks ? BPF_F_USER_STACK : 0);
	if (bpf_map_update_elem(&allocs, &addr, &info, BPF_ANY)) {
		count_drop();
		return 0;
	}
	if (combined)
		combined_add(info.stack_id, info.size);
	return 0;
}

static __always_inline int free_enter(__u64 addr)
{
	if (combined) {
		struct alloc_info *info = bpf_map_lookup_elem(&allocs, &addr);

		if (!info)
			return 0;
		combined_sub(info->stack_id, info->size);
	}
	bpf_map_delete_elem(&allocs, &addr);
	return 0;
}

/* A kernel allocation at an address still held: its free was missed (bcc's
 * --wa-missing-free), so the old one is dropped first. */
static __always_inline int kernel_alloc(void *ctx, __u64 ptr, __u64 size)
{
	if (wa_missing_free)
		free_enter(ptr);
	if (alloc_enter(size) == 0)
		alloc_exit(ctx, ptr);
	return 0;
}

/* ---- user mode: the C library ---- */

SEC("uprobe")
int BPF_KPROBE(malloc_enter, size_t size)
{
	return alloc_enter(size);
}

SEC("uretprobe")
int BPF_KRETPROBE(malloc_exit, void *ret)
{
	return alloc_exit(ctx, (__u64)ret);
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, size_t n, size_t size)
{
	return alloc_enter(n * size);
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, void *ptr, size_t size)
{
	free_enter((__u64)ptr);
	return alloc_enter(size);
}

SEC("uprobe")
int BPF_KPROBE(free_enter_u, void *ptr)
{
	return free_enter((__u64)ptr);
}

/* ---- kernel mode: slab and page allocations ---- */

/* The 6.0+ records, as flavors with the fields read: this also compiles against an older
 * kernel's vmlinux.h (a source checkout builds its tools there), which lacks the types. */
struct trace_event_raw_kmalloc___60 {
	const void *ptr;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kfree___60 {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_alloc___60 {
	const void *ptr;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_free___60 {
	const void *ptr;
} __attribute__((preserve_access_index));

SEC("tracepoint/kmem/kmalloc")
int tp_kmalloc(struct trace_event_raw_kmalloc___60 *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kfree")
int tp_kfree(struct trace_event_raw_kfree___60 *ctx)
{
	return free_enter((__u64)ctx->ptr);
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int tp_cache_alloc(struct trace_event_raw_kmem_cache_alloc___60 *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kmem_cache_free")
int tp_cache_free(struct trace_event_raw_kmem_cache_free___60 *ctx)
{
	return free_enter((__u64)ctx->ptr);
}

/* Kernels before 6.0.  The records above got those types in 6.0, when kmalloc_node and
 * kmem_cache_alloc_node were folded into kmalloc and kmem_cache_alloc.  Before, both
 * allocations shared trace_event_raw_kmem_alloc, both frees trace_event_raw_kmem_free,
 * and the two _node tracepoints trace_event_raw_kmem_alloc_node.  The front loads these
 * programs instead of the four above where the _node tracepoints exist, each attached
 * to the tracepoints of its type (the section names the first). */
struct trace_event_raw_kmem_alloc___old {
	const void *ptr;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_alloc_node___old {
	const void *ptr;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_free___old {
	const void *ptr;
} __attribute__((preserve_access_index));

SEC("tracepoint/kmem/kmalloc")
int tp_alloc_old(struct trace_event_raw_kmem_alloc___old *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kmalloc_node")
int tp_alloc_node_old(struct trace_event_raw_kmem_alloc_node___old *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kfree")
int tp_free_old(struct trace_event_raw_kmem_free___old *ctx)
{
	return free_enter((__u64)ctx->ptr);
}

/* ---- --percpu: per-CPU allocations (kernel mode) ---- */

SEC("tracepoint/percpu/percpu_alloc_percpu")
int tp_percpu_alloc(struct trace_event_raw_percpu_alloc_percpu *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->size);
}

SEC("tracepoint/percpu/percpu_free_percpu")
int tp_percpu_free(struct trace_event_raw_percpu_free_percpu *ctx)
{
	return free_enter((__u64)ctx->ptr);
}

char LICENSE[] SEC("license") = "GPL";
