// SPDX-License-Identifier: GPL-2.0
/* __arena globals (clang's address space 1, section .addr_space.1) kept in the object's
 * arena map, counted by a syscall tracepoint of the test's own process. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define __arena __attribute__((address_space(1)))
#ifndef __ulong             /* libbpf >= 1.4; Debian 12's 1.1 lacks it: a 64-bit enum value */
#define __ulong(name, val) enum { name##_value = val } name
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 8);                 /* pages */
#ifdef ARENA_AT
	__ulong(map_extra, ARENA_AT);           /* a fixed user address */
#endif
} arena SEC(".maps");

#ifdef TWO_ARENAS
struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
} arena2 SEC(".maps");
#endif

struct pair { __u32 calls; __s32 last; };

int __arena counter = 7;
struct pair __arena pair;
char __arena tag[8] = "arena";
__u64 my_pid;
__u64 seen;

SEC("tp/syscalls/sys_enter_getppid")
int count(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != my_pid)
		return 0;
	counter++;
	pair.calls++;
	pair.last = -counter;
	seen = counter;
	return 0;
}



/* Pages the program allocates in the arena: their pointers are user addresses inside
 * the loader's mapping of the arena (what makes mapping it before load matter). */
struct item { __u64 value; struct item __arena *next; };

void __arena *bpf_arena_alloc_pages(void *map, void __arena *addr, __u32 page_cnt,
				    int node_id, __u64 flags) __ksym __weak;

struct item __arena *head;
__u32 nodes = 3;

SEC("syscall")
int build_list(void *ctx)
{
	struct item __arena *n;
	__u32 i;

	for (i = 0; i < nodes && i < 8; i++) {
		n = bpf_arena_alloc_pages(&arena, NULL, 1, -1, 0);
		if (!n)
			return 1;
		n->value = 1000 + i;
		n->next = head;
		head = n;
	}
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
