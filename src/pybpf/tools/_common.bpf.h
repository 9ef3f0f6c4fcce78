/* What every pybpf tool's BPF side shares: the task filters behind -p/-t/-c/--cgroupmap/
 * --mntnsmap (set from tools/_args.py before load; .rodata is frozen, so the verifier
 * prunes the filters a run does not use), the drop counter, and the histogram helpers. */
#ifndef PYBPF_TOOLS_COMMON_BPF_H
#define PYBPF_TOOLS_COMMON_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define MAX_SLOTS 27          /* log2 buckets up to 2^26 (67 s in us, 64 MB in bytes) */

const volatile __u32 targ_tgid = 0;     /* -p PID */
const volatile __u32 targ_tid = 0;      /* -t/-L TID */
const volatile bool filter_cg = false;  /* -c CGROUP: task under the cgroup in cgroup_target */
const volatile bool filter_cgroup = false;  /* --cgroupmap */
const volatile bool filter_mntns = false;   /* --mntnsmap */

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_target SEC(".maps");

/* Filters given as pinned maps (--cgroupmap/--mntnsmap); replaced by the user's map. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u64);
} cgroup_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} mntns_filter SEC(".maps");

/* Events or counts that could not be recorded (ring buffer or table full). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);

	if (n)
		*n += 1;
}

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
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
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

	return s < MAX_SLOTS ? s : MAX_SLOTS - 1;
}

struct hist {
	__u32 slots[MAX_SLOTS];
};

static const struct hist zero_hist = {};

/* Add one value to the histogram at key in a hash map of struct hist (created on first
 * use; a full map counts a drop). */
#define hist_add(map, key, value) do {                                        \
	struct hist *h__ = bpf_map_lookup_elem(map, key);                     \
	if (!h__) {                                                           \
		bpf_map_update_elem(map, key, &zero_hist, BPF_NOEXIST);       \
		h__ = bpf_map_lookup_elem(map, key);                          \
		if (!h__) {                                                   \
			count_drop();                                         \
			break;                                                \
		}                                                             \
	}                                                                     \
	__sync_fetch_and_add(&h__->slots[hist_slot(value)], 1);               \
} while (0)

/* A task's state across the 5.14 rename of state to __state. */
struct task_struct___pre514 {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
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
