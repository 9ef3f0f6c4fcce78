/* bcc's map macros for networking, socket and local-storage maps, written for pybpf.
 *
 * Included by pybpf_bcc.h after its own map macros (it uses __BCC_KV_MAP and __BCC_PICK).
 * Each declares a libbpf-style BTF map in ".maps"; the methods bcc offers on them
 * (`m.redirect_map(i, f)`, `m.sock_hash_update(ctx, &k, f)`, ...) are rewritten to the
 * __bcc_M_* macros below, which call the kernel helper with the map where it goes. */
#ifndef PYBPF_NETMAPS_H
#define PYBPF_NETMAPS_H

/* XDP redirect targets: value = ifindex (devmap), queue size (cpumap), AF_XDP socket */
#define BPF_DEVMAP(n, s) __BCC_KV_MAP(BPF_MAP_TYPE_DEVMAP, u32, int, n, s, 0)
#define BPF_CPUMAP(n, s) __BCC_KV_MAP(BPF_MAP_TYPE_CPUMAP, u32, u32, n, s, 0)
#define BPF_XSKMAP(n, s) __BCC_KV_MAP(BPF_MAP_TYPE_XSKMAP, u32, int, n, s, 0)

/* sockets by index or by a key of the program's choosing; values are socket fds */
#define BPF_SOCKMAP(n, s) __BCC_KV_MAP(BPF_MAP_TYPE_SOCKMAP, u32, int, n, s, 0)
#define __BCC_SOCKHASH1(n) __BCC_KV_MAP(BPF_MAP_TYPE_SOCKHASH, u32, int, n, 10240, 0)
#define __BCC_SOCKHASH2(n, k) __BCC_KV_MAP(BPF_MAP_TYPE_SOCKHASH, k, int, n, 10240, 0)
#define __BCC_SOCKHASH3(n, k, s) __BCC_KV_MAP(BPF_MAP_TYPE_SOCKHASH, k, int, n, s, 0)
#define BPF_SOCKHASH(...) \
	__BCC_PICK(__VA_ARGS__, 0, 0, __BCC_SOCKHASH3, __BCC_SOCKHASH2, __BCC_SOCKHASH1)(__VA_ARGS__)

/* cgroups by index (bpf_current_task_under_cgroup, bpf_skb_under_cgroup) */
#define BPF_CGROUP_ARRAY(n, s) __BCC_KV_MAP(BPF_MAP_TYPE_CGROUP_ARRAY, int, u32, n, s, 0)

/* hardware/software counters read by the program (perf_read, perf_counter_value) */
#define BPF_PERF_ARRAY(n, s)                                                   \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                  \
		__uint(key_size, sizeof(int));                                \
		__uint(value_size, sizeof(u32));                              \
		__uint(max_entries, s);                                       \
	} n SEC(".maps")

/* local storage: created empty (max_entries 0), never preallocated */
#define __BCC_LOCAL_STORAGE(_mtype, n, v)                                      \
	struct {                                                              \
		__uint(type, _mtype);                                         \
		__uint(map_flags, BPF_F_NO_PREALLOC);                         \
		__type(key, int);                                             \
		__type(value, v);                                             \
	} n SEC(".maps")
#define BPF_SK_STORAGE(n, v) __BCC_LOCAL_STORAGE(BPF_MAP_TYPE_SK_STORAGE, n, v)
#define BPF_INODE_STORAGE(n, v) __BCC_LOCAL_STORAGE(BPF_MAP_TYPE_INODE_STORAGE, n, v)
#define BPF_TASK_STORAGE(n, v) __BCC_LOCAL_STORAGE(BPF_MAP_TYPE_TASK_STORAGE, n, v)

#define __BCC_CGROUP_STORAGE(_mtype, n, v)                                     \
	struct {                                                              \
		__uint(type, _mtype);                                         \
		__type(key, struct bpf_cgroup_storage_key);                   \
		__type(value, v);                                             \
	} n SEC(".maps")
#define BPF_CGROUP_STORAGE(n, v) __BCC_CGROUP_STORAGE(BPF_MAP_TYPE_CGROUP_STORAGE, n, v)
#define BPF_PERCPU_CGROUP_STORAGE(n, v) \
	__BCC_CGROUP_STORAGE(BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, n, v)

/* maps of maps: the rewriter turns bcc's quoted inner map name into the identifier; the
 * inner map is the template (its type, key, value and size) every member must match */
#define __BCC_MAP_OF_MAPS(_mtype, n, k, inner, s)                              \
	struct {                                                              \
		__uint(type, _mtype);                                         \
		__type(key, k);                                               \
		__uint(max_entries, s);                                       \
		__array(values, typeof(inner));                               \
	} n SEC(".maps")
#define BPF_ARRAY_OF_MAPS(n, inner, s) \
	__BCC_MAP_OF_MAPS(BPF_MAP_TYPE_ARRAY_OF_MAPS, n, int, inner, s)
#define __BCC_HOM2(n, inner) __BCC_MAP_OF_MAPS(BPF_MAP_TYPE_HASH_OF_MAPS, n, int, inner, 10240)
#define __BCC_HOM3(n, k, inner) __BCC_MAP_OF_MAPS(BPF_MAP_TYPE_HASH_OF_MAPS, n, k, inner, 10240)
#define __BCC_HOM4(n, k, inner, s) __BCC_MAP_OF_MAPS(BPF_MAP_TYPE_HASH_OF_MAPS, n, k, inner, s)
#define BPF_HASH_OF_MAPS(...) \
	__BCC_PICK(__VA_ARGS__, 0, __BCC_HOM4, __BCC_HOM3, __BCC_HOM2, 0)(__VA_ARGS__)

/* ---- their methods ------------------------------------------------------------------ */
#define __bcc_M_sock_map_update(m, _ctx, _k, _flags) bpf_sock_map_update(_ctx, m, _k, _flags)
#define __bcc_M_sock_hash_update(m, _ctx, _k, _flags) bpf_sock_hash_update(_ctx, m, _k, _flags)
#define __bcc_M_msg_redirect_hash(m, _ctx, _k, _flags) bpf_msg_redirect_hash(_ctx, m, _k, _flags)
#define __bcc_M_msg_redirect_map(m, _ctx, _k, _flags) bpf_msg_redirect_map(_ctx, m, _k, _flags)
#define __bcc_M_sk_redirect_hash(m, _ctx, _k, _flags) bpf_sk_redirect_hash(_ctx, m, _k, _flags)
#define __bcc_M_sk_redirect_map(m, _ctx, _k, _flags) bpf_sk_redirect_map(_ctx, m, _k, _flags)
#define __bcc_M_sk_storage_get(m, _sk, _v, _flags) bpf_sk_storage_get(m, _sk, _v, _flags)
#define __bcc_M_sk_storage_delete(m, _sk) bpf_sk_storage_delete(m, _sk)
#define __bcc_M_inode_storage_get(m, _i, _v, _flags) bpf_inode_storage_get(m, _i, _v, _flags)
#define __bcc_M_inode_storage_delete(m, _i) bpf_inode_storage_delete(m, _i)
#define __bcc_M_task_storage_get(m, _t, _v, _flags) bpf_task_storage_get(m, _t, _v, _flags)
#define __bcc_M_task_storage_delete(m, _t) bpf_task_storage_delete(m, _t)
#define __bcc_M_get_local_storage(m, _flags) bpf_get_local_storage(m, _flags)
#define __bcc_M_check_current_task(m, _idx) bpf_current_task_under_cgroup(m, _idx)
#define __bcc_M_perf_read(m, _idx) bpf_perf_event_read(m, _idx)
#define __bcc_M_perf_counter_value(m, _idx, _buf, _size) \
	bpf_perf_event_read_value(m, _idx, _buf, _size)

#endif /* PYBPF_NETMAPS_H */
