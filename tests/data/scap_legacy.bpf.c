// SPDX-License-Identifier: GPL-2.0
/* The shape of Falco's legacy eBPF probe (driver/bpf, loaded by libscap, never by libbpf):
 * struct bpf_map_def in SEC("maps"), static entry programs, a raw_tracepoint dispatcher
 * that tail-calls "filler" programs through a program array its loader fills.  Counts the
 * getppid() calls of the process whose tgid is in sl_settings[0]. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type, key_size, value_size, max_entries, map_flags;
};

struct bpf_map_def sl_settings SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1,
};
struct bpf_map_def sl_counts SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 2,
};
struct bpf_map_def sl_tail SEC("maps") = {
	.type = BPF_MAP_TYPE_PROG_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 4,
};

#define SYS_getppid 110		/* x86-64 */

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&sl_counts, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("raw_tracepoint/filler/sl_getppid")
static int bpf_sl_getppid(struct bpf_raw_tracepoint_args *ctx)
{
	count(1);			/* the filler ran */
	return 0;
}

SEC("raw_tracepoint/sys_enter")
static int bpf_sl_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 k = 0, *tgid = bpf_map_lookup_elem(&sl_settings, &k);

	if (!tgid || *tgid != bpf_get_current_pid_tgid() >> 32 || ctx->args[1] != SYS_getppid)
		return 0;
	count(0);			/* the dispatcher saw it */
	bpf_tail_call(ctx, &sl_tail, 2);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
