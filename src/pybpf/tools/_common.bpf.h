/* What every pybpf tool's BPF side shares: the task filters behind -p/-t/-c/--cgroupmap/
 * --mntnsmap (set from tools/_args.py before load; .rodata is frozen, so the verifier
 * prunes the filters a run does not use), the drop counter, and the histogram helpers. */
#ifndef PYBPF_TOOLS_COMMON_BPF_H
#define PYBPF_TOOLS_COMMON_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define MAX_SLOTS 27          /* log2 buckets up to 2^26 (67 s in us, 64 MB in bytes) */

/* Map definitions in one line (the BTF-defined layout libbpf reads from .maps). */
#define BPF_MAP(_name, _type, _key, _value, _entries)                         \
	struct {                                                              \
		__uint(type, _type);                                          \
		__uint(max_entries, _entries);                                \
		__type(key, _key);                                            \
		__type(value, _value);                                        \
	} _name SEC(".maps")
#define HASH_MAP(_name, _key, _value, _entries)                               \
	BPF_MAP(_name, BPF_MAP_TYPE_HASH, _key, _value, _entries)
#define PERCPU_ARRAY_MAP(_name, _value, _entries)                             \
	BPF_MAP(_name, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, _value, _entries)
#define RINGBUF_MAP(_name, _bytes)                                            \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                           \
		__uint(max_entries, _bytes);                                  \
	} _name SEC(".maps")

const volatile __u32 targ_tgid = 0;     /* -p PID */
const volatile __u32 targ_tid = 0;      /* -t/-L TID */
const volatile bool filter_cg = false;  /* -c CGROUP: task under the cgroup in cgroup_target */
const volatile bool filter_cgroup = false;  /* --cgroupmap */
const volatile bool filter_mntns = false;   /* --mntnsmap */

BPF_MAP(cgroup_target, BPF_MAP_TYPE_CGROUP_ARRAY, __u32, __u32, 1);

/* Filters given as pinned maps (--cgroupmap/--mntnsmap); replaced by the user's map. */
HASH_MAP(cgroup_filter, __u64, __u64, 1);
HASH_MAP(mntns_filter, __u64, __u32, 1);

/* Events or counts that could not be recorded (ring buffer or table full). */
PERCPU_ARRAY_MAP(drops, __u64, 1);

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);

	if (n)
		*n += 1;
}

/* The value at key in a hash map, made from init on first use; NULL (a drop counted)
 * when the map is full. */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *init)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		count_drop();
	return v;
}

/* Add n to the __u64 at key in a hash map (created on first use; another CPU may
 * create it between the lookup and the update; a full map counts a drop). */
static __always_inline void counter_add(void *map, const void *key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, key);

	if (!v) {
		if (!bpf_map_update_elem(map, key, &n, BPF_NOEXIST))
			return;
		v = bpf_map_lookup_elem(map, key);
		if (!v) {
			count_drop();
			return;
		}
	}
	__sync_fetch_and_add(v, n);
}

/* Room for one event in a ring buffer; NULL (a drop counted) when it is full. */
#define reserve_event(rb, size) ({                                            \
	void *e__ = bpf_ringbuf_reserve(rb, size, 0);                         \
	if (!e__)                                                             \
		count_drop();                                                 \
	e__;                                                                  \
})

/* reserve_event() for an event that starts with __u64 ts_ns and __u32 pid: those
 * stamped (now, the current process). */
#define stamped_event(rb, e) ({                                               \
	typeof(e) s__ = reserve_event(rb, sizeof(*s__));                      \
	if (s__) {                                                            \
		s__->ts_ns = bpf_ktime_get_ns();                              \
		s__->pid = bpf_get_current_pid_tgid() >> 32;                  \
	}                                                                     \
	s__;                                                                  \
})

/* The path from a task to its mount namespace's inode number, as local CO-RE flavours
 * (matched by name without the ___ suffix, as libbpf does): naming struct task_struct
 * itself puts ~27 KB of the kernel's types into every tool's BTF, which the kernel
 * checks again at each start (BPF_BTF_LOAD: ~0.2 ms of a warm start). */
struct ns_common___inum {
	unsigned int inum;
} __attribute__((preserve_access_index));
struct mnt_namespace___inum {
	struct ns_common___inum ns;
} __attribute__((preserve_access_index));
struct nsproxy___inum {
	struct mnt_namespace___inum *mnt_ns;
} __attribute__((preserve_access_index));
struct task_struct___inum {
	struct nsproxy___inum *nsproxy;
} __attribute__((preserve_access_index));

/* The cgroup and mount namespace filters, for the current task. */
static __always_inline bool current_in_groups(void)
{
	if (filter_cg && !bpf_current_task_under_cgroup(&cgroup_target, 0))
		return false;
	if (filter_cgroup) {
		__u64 cgid = bpf_get_current_cgroup_id();
		if (!bpf_map_lookup_elem(&cgroup_filter, &cgid))
			return false;
	}
	if (filter_mntns) {
		struct task_struct___inum *task = (void *)bpf_get_current_task();
		__u64 ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
		if (!bpf_map_lookup_elem(&mntns_filter, &ns))
			return false;
	}
	return true;
}

/* Every filter, for the current task. */
static __always_inline bool current_wanted(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (targ_tgid && (id >> 32) != targ_tgid)
		return false;
	if (targ_tid && (__u32)id != targ_tid)
		return false;
	return current_in_groups();
}

/* -p/-t for a task seen from outside (sched_switch's next task, say). */
static __always_inline bool ids_wanted(__u32 tgid, __u32 tid)
{
	if (targ_tgid && tgid != targ_tgid)
		return false;
	if (targ_tid && tid != targ_tid)
		return false;
	return true;
}

/* bcc's bpf_log2l: the bucket of a value in a power-of-two histogram. */
static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 log2l(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

/* The slot bcc's histograms put a value in (bpf_log2l): floor(log2(v)) + 1, 0 and 1
 * sharing slot 1 ("0 -> 1"); the last slot takes everything above. */
static __always_inline __u32 hist_slot(__u64 v)
{
	__u32 s = log2l(v) + 1;

	/* Without the barrier clang tests log2l(v) against MAX_SLOTS - 1 and indexes with
	 * the register holding log2l(v) + 1: verifiers before 6.11 (no bounds carried
	 * between registers a constant apart) lose the bound and reject the program. */
	barrier_var(s);
	return s < MAX_SLOTS ? s : MAX_SLOTS - 1;
}

struct hist {
	__u32 slots[MAX_SLOTS];
};

static const struct hist zero_hist = {};

/* Add one value to the histogram at key in a hash map of struct hist (created on first
 * use; a full map counts a drop). */
#define hist_add(map, key, value) do {                                        \
	struct hist *h__ = lookup_or_init(map, key, &zero_hist);              \
	if (h__)                                                              \
		__sync_fetch_and_add(&h__->slots[hist_slot(value)], 1);       \
} while (0)

/* One program per probe family, each running fn(ctx), named fn_uprobe, fn_tracepoint and
 * fn_kprobe: the user-space tools (funccount, stackcount) attach the one a probe spec
 * names (a uprobe or USDT site, a tracepoint, a kprobe where the kernel has them).
 * fn_umulti takes many uprobes in one uprobe_multi link (6.6+): the kernel only links a
 * program loaded for that attach type, so it is a program of its own. */
#define PROBE_PROGRAMS(fn)                                                    \
	SEC("uprobe") int fn##_uprobe(struct pt_regs *ctx) { return fn(ctx); } \
	SEC("uprobe.multi") int fn##_umulti(struct pt_regs *ctx) { return fn(ctx); } \
	SEC("tracepoint") int fn##_tracepoint(void *ctx) { return fn(ctx); }  \
	SEC("kprobe") int fn##_kprobe(struct pt_regs *ctx) { return fn(ctx); }

/* A task's state across the 5.14 rename of state to __state: both as flavors, so this
 * also compiles against an older kernel's vmlinux.h (trace and argdist compile there). */
struct task_struct___pre514 {
	volatile long state;
} __attribute__((preserve_access_index));

struct task_struct___514 {
	unsigned int __state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	struct task_struct___514 *n = (void *)t;

	if (bpf_core_field_exists(n->__state))
		return BPF_CORE_READ(n, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* The key a per-process (-P) or per-thread (-L) histogram uses, else 0. */
static __always_inline __u32 task_key(struct task_struct *t, bool by_pid, bool by_tid)
{
	if (by_pid)
		return BPF_CORE_READ(t, tgid);
	if (by_tid)
		return BPF_CORE_READ(t, pid);
	return 0;
}

static __always_inline bool task_wanted(struct task_struct *t)
{
	return ids_wanted(BPF_CORE_READ(t, tgid), BPF_CORE_READ(t, pid));
}

#endif
