/* pybpf's bcc dialect, written for pybpf.
 *
 * bcc programs name maps with macros (BPF_HASH, BPF_PERF_OUTPUT, ...) and call methods on
 * them (counts.increment(k)).  pybpf compiles them with clang alone: the macros below
 * declare libbpf-style BTF maps in ".maps", and pybpf's rewriter turns `map.method(args)`
 * into `__bcc_M_method(&map, args)`, defined here.  Kernel types come from vmlinux.h,
 * generated from the running kernel's BTF, so no kernel headers are needed.
 */
#ifndef PYBPF_BCC_H
#define PYBPF_BCC_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* Kernel-header constants bcc programs use that BTF cannot carry (they are macros). */
#ifndef __user
#define __user
#endif
#ifndef __kernel
#define __kernel
#endif
#ifndef __force
#define __force
#endif
#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif
#ifndef NAME_MAX
#define NAME_MAX 255
#endif
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif
#ifndef DISK_NAME_LEN
#define DISK_NAME_LEN 32
#endif
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#ifndef ETH_P_IP
#define ETH_P_IP 0x0800
#endif
#ifndef ETH_P_IPV6
#define ETH_P_IPV6 0x86DD
#endif
#ifndef ETH_HLEN
#define ETH_HLEN 14
#endif
#ifndef PF_KTHREAD
#define PF_KTHREAD 0x00200000
#endif
#ifndef TASK_RUNNING
#define TASK_RUNNING 0
#endif
#ifndef MAX_ERRNO
#define MAX_ERRNO 4095
#endif

#ifndef IFNAMSIZ
#define IFNAMSIZ 16
#endif
#ifndef REQ_OP_BITS
#define REQ_OP_BITS 8
#endif
#ifndef REQ_OP_MASK
#define REQ_OP_MASK ((1 << REQ_OP_BITS) - 1)
#endif
#ifndef PAGE_SIZE
#define PAGE_SIZE 4096
#endif
#ifndef PAGE_SHIFT
#define PAGE_SHIFT 12
#endif
#ifndef HZ
#define HZ 1000
#endif
#ifndef NSEC_PER_SEC
#define NSEC_PER_SEC 1000000000ULL
#endif
#ifndef NSEC_PER_USEC
#define NSEC_PER_USEC 1000ULL
#endif
#ifndef TASK_INTERRUPTIBLE
#define TASK_INTERRUPTIBLE 0x0001
#endif
#ifndef TASK_UNINTERRUPTIBLE
#define TASK_UNINTERRUPTIBLE 0x0002
#endif
#ifndef __TASK_STOPPED
#define __TASK_STOPPED 0x0004
#endif
#ifndef __TASK_TRACED
#define __TASK_TRACED 0x0008
#endif
#ifndef TASK_DEAD
#define TASK_DEAD 0x0080
#endif
#ifndef EXIT_DEAD
#define EXIT_DEAD 0x0010
#endif
#ifndef EXIT_ZOMBIE
#define EXIT_ZOMBIE 0x0020
#endif
#ifndef PF_EXITING
#define PF_EXITING 0x00000004
#endif
#ifndef SIGKILL
#define SIGKILL 9
#endif
#ifndef CLONE_THREAD
#define CLONE_THREAD 0x00010000
#endif
#ifndef O_CREAT
#define O_CREAT 0100
#endif
#ifndef S_IFMT
#define S_IFMT 00170000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#endif
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#endif
#ifndef ETH_ALEN
#define ETH_ALEN 6
#endif
#ifndef SOCK_STREAM
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#endif
/* x86-64's direct map starts here (4-level paging); profile.py compares against it */
#if defined(__TARGET_ARCH_x86) && !defined(__PAGE_OFFSET_BASE_L4)
#define __PAGE_OFFSET_BASE_L4 0xffff888000000000UL
#define CONFIG_X86_64 1
#endif
/* 5-level paging's: profile.py takes it when the kernel's config names
 * CONFIG_DYNAMIC_MEMORY_LAYOUT and CONFIG_X86_5LEVEL (prelude.with_kconfig) */
#if defined(__TARGET_ARCH_x86) && !defined(__PAGE_OFFSET_BASE_L5)
#define __PAGE_OFFSET_BASE_L5 0xff11000000000000UL
#endif
#if defined(__TARGET_ARCH_x86) && !defined(PAGE_OFFSET)
#define PAGE_OFFSET __PAGE_OFFSET_BASE_L4
#endif

/* errno values (macros in the kernel's headers, so not in BTF); the UAPI copy is plain
 * #defines and safe beside vmlinux.h */
#include <asm-generic/errno.h>

/* Byte order: bcc programs call the kernel's names. */
#ifndef ntohs
#define ntohs(x) bpf_ntohs(x)
#define htons(x) bpf_htons(x)
#define ntohl(x) bpf_ntohl(x)
#define htonl(x) bpf_htonl(x)
#endif
#ifndef be16_to_cpu
#define be16_to_cpu(x) bpf_ntohs(x)
#define be32_to_cpu(x) bpf_ntohl(x)
#define cpu_to_be16(x) bpf_htons(x)
#define cpu_to_be32(x) bpf_htonl(x)
#endif

/* Kernel inline helpers and macros tools call. */
#ifndef min
#define min(x, y) ({ typeof(x) __m1 = (x); typeof(y) __m2 = (y); __m1 < __m2 ? __m1 : __m2; })
#endif
#ifndef max
#define max(x, y) ({ typeof(x) __m1 = (x); typeof(y) __m2 = (y); __m1 > __m2 ? __m1 : __m2; })
#endif
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif
#ifndef min_t
#define min_t(t, x, y) ({ t __m1 = (x); t __m2 = (y); __m1 < __m2 ? __m1 : __m2; })
#define max_t(t, x, y) ({ t __m1 = (x); t __m2 = (y); __m1 > __m2 ? __m1 : __m2; })
#endif
#define div_u64(a, b) ((u64)(a) / (b))
#ifndef NSEC_PER_MSEC
#define NSEC_PER_MSEC 1000000ULL
#endif
#ifndef S_IFSOCK
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFBLK 0060000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_ISLNK(m) (((m) & S_IFMT) == S_IFLNK)
#define S_ISCHR(m) (((m) & S_IFMT) == S_IFCHR)
#define S_ISBLK(m) (((m) & S_IFMT) == S_IFBLK)
#define S_ISFIFO(m) (((m) & S_IFMT) == S_IFIFO)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)
#endif
#ifndef FMODE_CREATED
#define FMODE_CREATED ((fmode_t)0x100000)
#endif
#ifndef SCM_RIGHTS
#define SCM_RIGHTS 0x01
#endif
/* scatterlist page_link flags (include/linux/scatterlist.h) */
#define SG_CHAIN 0x01UL
#define SG_END 0x02UL
#define sg_is_chain(sg) ((sg)->page_link & SG_CHAIN)
#define sg_is_last(sg) ((sg)->page_link & SG_END)
#define sg_chain_ptr(sg) ((struct scatterlist *)((sg)->page_link & ~(SG_CHAIN | SG_END)))
/* kernel inline helpers on kernel pointers: read through probe reads */
static __always_inline bool skb_rx_queue_recorded(const struct sk_buff *skb)
{
	return BPF_CORE_READ(skb, queue_mapping) != 0;
}
static __always_inline u16 skb_get_rx_queue(const struct sk_buff *skb)
{
	return BPF_CORE_READ(skb, queue_mapping) - 1;
}
/* struct sock and inet_sock members the kernel names through macros (net/sock.h,
 * net/inet_sock.h); bcc programs use these names */
#define sk_num __sk_common.skc_num
#define sk_dport __sk_common.skc_dport
#define sk_daddr __sk_common.skc_daddr
#define sk_rcv_saddr __sk_common.skc_rcv_saddr
#define sk_family __sk_common.skc_family
#define sk_state __sk_common.skc_state
#define sk_reuse __sk_common.skc_reuse
#define sk_bound_dev_if __sk_common.skc_bound_dev_if
#define sk_v6_daddr __sk_common.skc_v6_daddr
#define sk_v6_rcv_saddr __sk_common.skc_v6_rcv_saddr
#define sk_cookie __sk_common.skc_cookie
#define sk_hash __sk_common.skc_hash
#define sk_prot __sk_common.skc_prot
#define sk_net __sk_common.skc_net
#define sk_refcnt __sk_common.skc_refcnt
#define inet_daddr sk.__sk_common.skc_daddr
#define inet_rcv_saddr sk.__sk_common.skc_rcv_saddr
#define inet_dport sk.__sk_common.skc_dport
#define inet_num sk.__sk_common.skc_num
/* struct in6_addr members the kernel names through macros (uapi/linux/in6.h) */
#ifndef s6_addr
#define s6_addr in6_u.u6_addr8
#define s6_addr16 in6_u.u6_addr16
#define s6_addr32 in6_u.u6_addr32
#endif
/* a folio's n-th page (linux/mm.h; pointer arithmetic, nothing is read) */
#ifndef folio_page
#define folio_page(folio, n) (&(folio)->page + (n))
#endif
/* older bpf_tracing.h stops at five arguments; x86-64 passes a sixth in r9 */
#if defined(__TARGET_ARCH_x86) && !defined(PT_REGS_PARM6)
#define PT_REGS_PARM6(x) (((const struct pt_regs *)(x))->r9)
#endif
#if defined(__TARGET_ARCH_x86) && !defined(PT_REGS_PARM6_CORE)
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ((const struct pt_regs *)(x), r9)
#endif
#if defined(__TARGET_ARCH_x86) && !defined(PT_REGS_PARM6_CORE_SYSCALL)
#define PT_REGS_PARM6_CORE_SYSCALL(x) PT_REGS_PARM6_CORE(x)
#endif
/* Reads through a pointer that may be a user or a kernel address (arguments of functions
 * that may be attached as uprobes or kprobes): x86-64's bpf_probe_read picks the space by
 * the address; elsewhere kernel memory is assumed, as bcc does */
#if defined(__TARGET_ARCH_x86)
#define __bcc_probe_read_any bpf_probe_read
#else
#define __bcc_probe_read_any bpf_probe_read_kernel
#endif
#define tcp_sk(sk) ((struct tcp_sock *)(sk))
#define inet_sk(sk) ((struct inet_sock *)(sk))
#define inet_csk(sk) ((struct inet_connection_sock *)(sk))
#define udp_sk(sk) ((struct udp_sock *)(sk))
#define sk_to_full_sk(sk) (sk)

/* Per-kernel constants pybpf derives from BTF (DNAME_INLINE_LEN, ...), beside vmlinux.h. */
#if __has_include(<pybpf_kernel.h>)
#include <pybpf_kernel.h>
#endif
#ifndef DNAME_INLINE_LEN
#define DNAME_INLINE_LEN 32
#endif

/* __data_loc fields of tracepoints: a u32 holding the data's offset in the record (low
 * 16 bits) and its length (high 16); bcc names the field data_loc_<name>. */
#define __BCC_DL_OFF(field) ((args)->data_loc_##field & 0xFFFF)
#define __BCC_DL_LEN(field) ((args)->data_loc_##field >> 16)
#define TP_DATA_LOC_READ_CONST(dst, field, length) \
	bpf_probe_read_kernel((void *)(dst), (length), (char *)(args) + __BCC_DL_OFF(field))
#define TP_DATA_LOC_READ(dst, field) \
	bpf_probe_read_kernel((void *)(dst), __BCC_DL_LEN(field), (char *)(args) + __BCC_DL_OFF(field))
#define TP_DATA_LOC_READ_STR_CONST(dst, field, length) \
	bpf_probe_read_kernel_str((void *)(dst), (length), (char *)(args) + __BCC_DL_OFF(field))
#define TP_DATA_LOC_READ_STR(dst, field, length) TP_DATA_LOC_READ_STR_CONST(dst, field, length)

#define lock_xadd(ptr, val) ((void)__sync_fetch_and_add(ptr, val))

/* bcc's log2 helpers: bpf_log2(v) is floor(log2(v)) (0 for 0); bpf_log2l(v) is one more,
 * so values 0 and 1 share bucket 1, which print_log2_hist shows as "0 -> 1". */
static __always_inline unsigned int bpf_log2(unsigned int v)
{
	unsigned int r = 0, s;
	s = (v >= (1U << 16)) << 4; v >>= s; r |= s;
	s = (v >= (1U << 8)) << 3;  v >>= s; r |= s;
	s = (v >= (1U << 4)) << 2;  v >>= s; r |= s;
	s = (v >= (1U << 2)) << 1;  v >>= s; r |= s;
	r |= (v >> 1);
	return r;
}

static __always_inline unsigned int bpf_log2l(unsigned long v)
{
	unsigned int hi = v >> 32;
	return hi ? bpf_log2(hi) + 33 : bpf_log2((unsigned int)v) + 1;
}

/* ---- maps ------------------------------------------------------------------------ */
/* Map kinds named by bcc's BPF_TABLE("kind", ...) strings (the rewriter drops the quotes). */
#define __BCC_MT_hash            BPF_MAP_TYPE_HASH
#define __BCC_MT_array           BPF_MAP_TYPE_ARRAY
#define __BCC_MT_percpu_hash     BPF_MAP_TYPE_PERCPU_HASH
#define __BCC_MT_percpu_array    BPF_MAP_TYPE_PERCPU_ARRAY
#define __BCC_MT_lru_hash        BPF_MAP_TYPE_LRU_HASH
#define __BCC_MT_lru_percpu_hash BPF_MAP_TYPE_LRU_PERCPU_HASH
#define __BCC_MT_lpm_trie        BPF_MAP_TYPE_LPM_TRIE
#define __BCC_MT_devmap          BPF_MAP_TYPE_DEVMAP
#define __BCC_MT_cpumap          BPF_MAP_TYPE_CPUMAP
#define __BCC_MT_xskmap          BPF_MAP_TYPE_XSKMAP
#define __BCC_MT_sockmap         BPF_MAP_TYPE_SOCKMAP
#define __BCC_MT_sockhash        BPF_MAP_TYPE_SOCKHASH
#define __BCC_MT_cgroup_array    BPF_MAP_TYPE_CGROUP_ARRAY

/* LPM tries must be created without preallocation. */
#define __BCC_MF_lpm_trie BPF_F_NO_PREALLOC
#define __BCC_FLAGS(kind) __BCC_MF_##kind

#define __BCC_KV_MAP(_mtype, _ktype, _vtype, _name, _size, _flags)           \
	struct {                                                              \
		__uint(type, _mtype);                                         \
		__type(key, _ktype);                                          \
		__type(value, _vtype);                                        \
		__uint(max_entries, _size);                                   \
		__uint(map_flags, _flags);                                    \
	} _name SEC(".maps")

/* BPF_TABLE(kind, key, leaf, name, size): a histogram is an array when keyed by int (as in
 * bcc), else a hash. */
#define __BCC_MF_hash 0
#define __BCC_MF_array 0
#define __BCC_MF_percpu_hash 0
#define __BCC_MF_percpu_array 0
#define __BCC_MF_lru_hash 0
#define __BCC_MF_lru_percpu_hash 0
#define __BCC_MF_devmap 0
#define __BCC_MF_cpumap 0
#define __BCC_MF_xskmap 0
#define __BCC_MF_sockmap 0
#define __BCC_MF_sockhash 0
#define __BCC_MF_cgroup_array 0
#define __BCC_TABLE_histogram(_k, _v, _n, _s)                                  \
	__BCC_KV_MAP(__builtin_types_compatible_p(_k, int) ? BPF_MAP_TYPE_ARRAY    \
		     : BPF_MAP_TYPE_HASH, _k, _v, _n, _s, 0)
#define __BCC_TABLE_perf_output(_k, _v, _n, _s) BPF_PERF_OUTPUT(_n)
#define __BCC_TABLE_stack_trace(_k, _v, _n, _s) BPF_STACK_TRACE(_n, _s)
#define __BCC_TABLE_prog(_k, _v, _n, _s) BPF_PROG_ARRAY(_n, _s)
#define __BCC_TABLE_queue(_k, _v, _n, _s) BPF_QUEUE(_n, _v, _s)
#define __BCC_TABLE_stack(_k, _v, _n, _s) BPF_STACK(_n, _v, _s)
#define __BCC_TABLE_generic(kind, _k, _v, _n, _s)                              \
	__BCC_KV_MAP(__BCC_MT_##kind, _k, _v, _n, _s, __BCC_FLAGS(kind))
#define __BCC_TABLE_hash(_k, _v, _n, _s) __BCC_TABLE_generic(hash, _k, _v, _n, _s)
#define __BCC_TABLE_array(_k, _v, _n, _s) __BCC_TABLE_generic(array, _k, _v, _n, _s)
#define __BCC_TABLE_percpu_hash(_k, _v, _n, _s) __BCC_TABLE_generic(percpu_hash, _k, _v, _n, _s)
#define __BCC_TABLE_percpu_array(_k, _v, _n, _s) __BCC_TABLE_generic(percpu_array, _k, _v, _n, _s)
#define __BCC_TABLE_lru_hash(_k, _v, _n, _s) __BCC_TABLE_generic(lru_hash, _k, _v, _n, _s)
#define __BCC_TABLE_lru_percpu_hash(_k, _v, _n, _s) __BCC_TABLE_generic(lru_percpu_hash, _k, _v, _n, _s)
#define __BCC_TABLE_lpm_trie(_k, _v, _n, _s) __BCC_TABLE_generic(lpm_trie, _k, _v, _n, _s)
#define __BCC_TABLE_devmap(_k, _v, _n, _s) __BCC_TABLE_generic(devmap, _k, _v, _n, _s)
#define __BCC_TABLE_cpumap(_k, _v, _n, _s) __BCC_TABLE_generic(cpumap, _k, _v, _n, _s)
#define __BCC_TABLE_xskmap(_k, _v, _n, _s) __BCC_TABLE_generic(xskmap, _k, _v, _n, _s)
#define __BCC_TABLE_sockmap(_k, _v, _n, _s) __BCC_TABLE_generic(sockmap, _k, _v, _n, _s)
#define __BCC_TABLE_sockhash(_k, _v, _n, _s) __BCC_TABLE_generic(sockhash, _k, _v, _n, _s)
#define __BCC_TABLE_cgroup_array(_k, _v, _n, _s) __BCC_TABLE_generic(cgroup_array, _k, _v, _n, _s)
#define BPF_TABLE(kind, _k, _v, _n, _s) __BCC_TABLE_##kind(_k, _v, _n, _s)
#define BPF_TABLE_PUBLIC BPF_TABLE
/* linux/version.h: LINUX_VERSION_CODE comes from the running kernel's release (bpf.py
 * passes it as a -D); scripts compare it with KERNEL_VERSION(a, b, c) */
#ifndef KERNEL_VERSION
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#endif
/* the string functions kernel headers declare: clang turns constant-size calls into
 * inline code (bcc's programs call memset/memcpy without an include) */
void *memset(void *, int, unsigned long);
void *memcpy(void *, const void *, unsigned long);
void *memmove(void *, const void *, unsigned long);
/* BPF_F_TABLE(kind, key, leaf, name, size, flags): the map flags given, as bcc's */
#define BPF_F_TABLE(kind, _k, _v, _n, _s, _f)                                  \
	__BCC_KV_MAP(__BCC_MT_##kind, _k, _v, _n, _s, (_f) | __BCC_FLAGS(kind))
/* BPF_TABLE("extern", ...): another BPF object's BPF_TABLE_PUBLIC table; the hash here
 * only holds the place, the loader puts the public table's map in it (bpf.py) */
#define __BCC_TABLE_extern(_k, _v, _n, _s) __BCC_KV_MAP(BPF_MAP_TYPE_HASH, _k, _v, _n, _s, 0)
#define BPF_TABLE_SHARED BPF_TABLE

/* Optional trailing arguments, as bcc's macros take them. */
#define __BCC_PICK(_1, _2, _3, _4, _5, NAME, ...) NAME

#define __BCC_HASH1(n) __BCC_TABLE_hash(u64, u64, n, 10240)
#define __BCC_HASH2(n, k) __BCC_TABLE_hash(k, u64, n, 10240)
#define __BCC_HASH3(n, k, v) __BCC_TABLE_hash(k, v, n, 10240)
#define __BCC_HASH4(n, k, v, s) __BCC_TABLE_hash(k, v, n, s)
#define BPF_HASH(...) __BCC_PICK(__VA_ARGS__, 0, __BCC_HASH4, __BCC_HASH3, __BCC_HASH2, __BCC_HASH1)(__VA_ARGS__)

#define __BCC_LRU1(n) __BCC_TABLE_lru_hash(u64, u64, n, 10240)
#define __BCC_LRU2(n, k) __BCC_TABLE_lru_hash(k, u64, n, 10240)
#define __BCC_LRU3(n, k, v) __BCC_TABLE_lru_hash(k, v, n, 10240)
#define __BCC_LRU4(n, k, v, s) __BCC_TABLE_lru_hash(k, v, n, s)
#define BPF_LRU_HASH(...) __BCC_PICK(__VA_ARGS__, 0, __BCC_LRU4, __BCC_LRU3, __BCC_LRU2, __BCC_LRU1)(__VA_ARGS__)

#define __BCC_PCH1(n) __BCC_TABLE_percpu_hash(u64, u64, n, 10240)
#define __BCC_PCH2(n, k) __BCC_TABLE_percpu_hash(k, u64, n, 10240)
#define __BCC_PCH3(n, k, v) __BCC_TABLE_percpu_hash(k, v, n, 10240)
#define __BCC_PCH4(n, k, v, s) __BCC_TABLE_percpu_hash(k, v, n, s)
#define BPF_PERCPU_HASH(...) __BCC_PICK(__VA_ARGS__, 0, __BCC_PCH4, __BCC_PCH3, __BCC_PCH2, __BCC_PCH1)(__VA_ARGS__)

#define __BCC_ARR1(n) __BCC_TABLE_array(int, u64, n, 10240)
#define __BCC_ARR2(n, v) __BCC_TABLE_array(int, v, n, 10240)
#define __BCC_ARR3(n, v, s) __BCC_TABLE_array(int, v, n, s)
#define BPF_ARRAY(...) __BCC_PICK(__VA_ARGS__, 0, 0, __BCC_ARR3, __BCC_ARR2, __BCC_ARR1)(__VA_ARGS__)

#define __BCC_PCA1(n) __BCC_TABLE_percpu_array(int, u64, n, 10240)
#define __BCC_PCA2(n, v) __BCC_TABLE_percpu_array(int, v, n, 10240)
#define __BCC_PCA3(n, v, s) __BCC_TABLE_percpu_array(int, v, n, s)
#define BPF_PERCPU_ARRAY(...) __BCC_PICK(__VA_ARGS__, 0, 0, __BCC_PCA3, __BCC_PCA2, __BCC_PCA1)(__VA_ARGS__)

#define __BCC_HIST1(n) __BCC_TABLE_histogram(int, u64, n, 64)
#define __BCC_HIST2(n, k) __BCC_TABLE_histogram(k, u64, n, 64)
#define __BCC_HIST3(n, k, s) __BCC_TABLE_histogram(k, u64, n, s)
#define BPF_HISTOGRAM(...) __BCC_PICK(__VA_ARGS__, 0, 0, __BCC_HIST3, __BCC_HIST2, __BCC_HIST1)(__VA_ARGS__)

#define __BCC_LPM2(n, k) __BCC_TABLE_lpm_trie(k, u64, n, 10240)
#define __BCC_LPM3(n, k, v) __BCC_TABLE_lpm_trie(k, v, n, 10240)
#define __BCC_LPM4(n, k, v, s) __BCC_TABLE_lpm_trie(k, v, n, s)
#define BPF_LPM_TRIE(...) __BCC_PICK(__VA_ARGS__, 0, __BCC_LPM4, __BCC_LPM3, __BCC_LPM2, 0)(__VA_ARGS__)

/* max_entries 0: the loader sizes a perf event array to the number of possible CPUs. */
#define BPF_PERF_OUTPUT(n)                                                     \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                  \
		__uint(key_size, sizeof(int));                                \
		__uint(value_size, sizeof(u32));                              \
	} n SEC(".maps")

#define BPF_RINGBUF_OUTPUT(n, pages)                                           \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                           \
		__uint(max_entries, (pages) * 4096);                          \
	} n SEC(".maps")

#define __BCC_STACK_DEPTH 127
#define BPF_STACK_TRACE(n, s)                                                  \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                       \
		__uint(key_size, sizeof(u32));                                \
		__uint(value_size, __BCC_STACK_DEPTH * sizeof(u64));          \
		__uint(max_entries, s);                                       \
	} n SEC(".maps")

/* Frames as (build id, file offset): struct bpf_stack_build_id is 32 bytes (s32 status,
 * u8 build_id[20], u64 offset/ip); BPF_F_STACK_BUILD_ID is 1 << 5.  Spelled as numbers so
 * the map needs no kernel type in the header cut to the program's types. */
#define BPF_STACK_TRACE_BUILDID(n, s)                                          \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                       \
		__uint(key_size, sizeof(u32));                                \
		__uint(value_size, __BCC_STACK_DEPTH * 32);                   \
		__uint(max_entries, s);                                       \
		__uint(map_flags, 1U << 5);                                   \
	} n SEC(".maps")

#define __BCC_PROG1(n) BPF_PROG_ARRAY_SIZED(n, 10240)
#define BPF_PROG_ARRAY_SIZED(n, s)                                             \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);                        \
		__uint(key_size, sizeof(u32));                                \
		__uint(value_size, sizeof(u32));                              \
		__uint(max_entries, s);                                       \
	} n SEC(".maps")
#define BPF_PROG_ARRAY(...) __BCC_PICK(__VA_ARGS__, 0, 0, 0, BPF_PROG_ARRAY_SIZED, __BCC_PROG1)(__VA_ARGS__)

#define __BCC_QS(_mtype, n, v, s)                                              \
	struct {                                                              \
		__uint(type, _mtype);                                         \
		__type(value, v);                                             \
		__uint(max_entries, s);                                       \
	} n SEC(".maps")
/* an optional fourth argument: map flags, as bcc takes them */
#define __BCC_QSF(_mtype, n, v, s, f)                                          \
	struct {                                                              \
		__uint(type, _mtype);                                         \
		__type(value, v);                                             \
		__uint(max_entries, s);                                       \
		__uint(map_flags, f);                                         \
	} n SEC(".maps")
#define __BCC_Q3(n, v, s) __BCC_QS(BPF_MAP_TYPE_QUEUE, n, v, s)
#define __BCC_Q4(n, v, s, f) __BCC_QSF(BPF_MAP_TYPE_QUEUE, n, v, s, f)
#define __BCC_S3(n, v, s) __BCC_QS(BPF_MAP_TYPE_STACK, n, v, s)
#define __BCC_S4(n, v, s, f) __BCC_QSF(BPF_MAP_TYPE_STACK, n, v, s, f)
#define BPF_QUEUE(...) __BCC_PICK(__VA_ARGS__, 0, __BCC_Q4, __BCC_Q3, 0, 0)(__VA_ARGS__)
#define BPF_STACK(...) __BCC_PICK(__VA_ARGS__, 0, __BCC_S4, __BCC_S3, 0, 0)(__VA_ARGS__)

/* networking, socket and local-storage maps; bcc's packet helpers */
#include <pybpf_netmaps.h>
#include <pybpf_packet.h>

/* ---- map methods (the rewriter turns `m.method(a...)` into `__bcc_M_method(&m, a...)`) */
#define __bcc_M_lookup(m, _k) bpf_map_lookup_elem(m, _k)
/* the value may be a compound literal, `&(struct host){a, b, 0}`: its commas split macro
 * arguments, so the last argument is variadic */
#define __bcc_M_update(m, _k, ...) bpf_map_update_elem(m, _k, (__VA_ARGS__), BPF_ANY)
#define __bcc_M_insert(m, _k, ...) bpf_map_update_elem(m, _k, (__VA_ARGS__), BPF_NOEXIST)
#define __bcc_M_delete(m, _k) bpf_map_delete_elem(m, _k)
#define __bcc_M_lookup_or_try_init(m, _k, ...) ({                            \
	typeof(*(m)->value) *__bcc_v = bpf_map_lookup_elem(m, _k);            \
	if (!__bcc_v) {                                                       \
		bpf_map_update_elem(m, _k, (__VA_ARGS__), BPF_NOEXIST);       \
		__bcc_v = bpf_map_lookup_elem(m, _k);                         \
	}                                                                     \
	__bcc_v; })
/* the older lookup_or_init returns 0 from the probe when the entry cannot be made, as
 * bcc's rewriter does: the pointer it yields is then never NULL (the verifier accepts an
 * unchecked `(*p)++`) */
#define __bcc_M_lookup_or_init(m, _k, ...) ({                                \
	typeof(*(m)->value) *__bcc_v = bpf_map_lookup_elem(m, _k);            \
	if (!__bcc_v) {                                                       \
		bpf_map_update_elem(m, _k, (__VA_ARGS__), BPF_NOEXIST);       \
		__bcc_v = bpf_map_lookup_elem(m, _k);                         \
		if (!__bcc_v)                                                 \
			return 0;                                             \
	}                                                                     \
	__bcc_v; })

/* increment(key[, by]): add atomically; on a missing key insert, and if another CPU won
 * that race, add to what it inserted. */
#define __bcc_incr_by(m, _k, _by) ({                                           \
	typeof(*(m)->key) __bcc_k = (_k);                                     \
	typeof(*(m)->value) *__bcc_p = bpf_map_lookup_elem(m, &__bcc_k);      \
	if (__bcc_p) {                                                        \
		__sync_fetch_and_add(__bcc_p, (_by));                         \
	} else {                                                              \
		typeof(*(m)->value) __bcc_z = (_by);                          \
		if (bpf_map_update_elem(m, &__bcc_k, &__bcc_z, BPF_NOEXIST)) { \
			__bcc_p = bpf_map_lookup_elem(m, &__bcc_k);           \
			if (__bcc_p)                                          \
				__sync_fetch_and_add(__bcc_p, (_by));         \
		}                                                             \
	} })
#define __bcc_incr_one(m, _k) __bcc_incr_by(m, _k, 1)
#define __bcc_M_increment(m, ...) __BCC_PICK(__VA_ARGS__, 0, 0, 0, __bcc_incr_by, __bcc_incr_one)(m, __VA_ARGS__)
#define __bcc_M_atomic_increment __bcc_M_increment

/* The context the helpers need.  A probe body that runs from a stand-in pt_regs (built
 * on the stack when a tracepoint replaces a kprobe) gets the program's real context as
 * its hidden parameter __bcc_real_ctx (a void *); everywhere else that name is this int
 * constant and the context given is used.  Chosen at compile time: no branch. */
enum { __bcc_real_ctx = 0 };
#define __BCC_CTX(c) __builtin_choose_expr(                                       \
	__builtin_types_compatible_p(__typeof__(__bcc_real_ctx), int),         \
	(void *)(c), (void *)(unsigned long)__bcc_real_ctx)

#define __bcc_M_perf_submit(m, _ctx, _data, _size)                             \
	bpf_perf_event_output(__BCC_CTX(_ctx), m, BPF_F_CURRENT_CPU, _data, _size)
#define __bcc_M_perf_submit_skb(m, _ctx, _skb_len, _data, _size)               \
	bpf_perf_event_output(__BCC_CTX(_ctx), m, ((__u64)(_skb_len) << 32) | BPF_F_CURRENT_CPU, _data, _size)
#define __bcc_M_ringbuf_output(m, _data, _size, _flags) bpf_ringbuf_output(m, _data, _size, _flags)
#define __bcc_M_ringbuf_reserve(m, _size) bpf_ringbuf_reserve(m, _size, 0)
#define __bcc_M_ringbuf_submit(m, _data, _flags) bpf_ringbuf_submit(_data, _flags)
#define __bcc_M_ringbuf_discard(m, _data, _flags) bpf_ringbuf_discard(_data, _flags)
#define __bcc_M_ringbuf_query(m, _flags) bpf_ringbuf_query(m, _flags)
/* BPF_PERF_ARRAY counters (table.open_perf_event in Python opens one per CPU) */
#define __bcc_M_perf_read(m, _idx) bpf_perf_event_read(m, _idx)
#define __bcc_M_perf_counter_value(m, _idx, _buf, _size) bpf_perf_event_read_value(m, _idx, _buf, _size)
#ifndef CUR_CPU_IDENTIFIER
#define CUR_CPU_IDENTIFIER BPF_F_CURRENT_CPU
#endif
#define __bcc_M_get_stackid(m, _ctx, _flags) bpf_get_stackid(__BCC_CTX(_ctx), m, _flags)
#define __bcc_M_call(m, _ctx, _idx) bpf_tail_call(__BCC_CTX(_ctx), m, _idx)
#define __bcc_M_push(m, _v, _flags) bpf_map_push_elem(m, _v, _flags)
#define __bcc_M_pop(m, _v) bpf_map_pop_elem(m, _v)
#define __bcc_M_peek(m, _v) bpf_map_peek_elem(m, _v)
#define __bcc_M_redirect_map(m, _idx, _flags) bpf_redirect_map(m, _idx, _flags)

/* bpf_trace_printk("fmt", args...): the format lives in .rodata, its size is implicit. */
#define __bcc_trace_printk(fmt, ...) ({                                        \
	static const char ____bcc_fmt[] = fmt;                                \
	bpf_trace_printk(____bcc_fmt, sizeof(____bcc_fmt), ##__VA_ARGS__); })

/* ---- probe forms --------------------------------------------------------------------- */
#define TRACEPOINT_PROBE(cat, event)                                           \
	SEC("tracepoint/" #cat "/" #event)                                    \
	int tracepoint__##cat##__##event(struct tracepoint__##cat##__##event *args)

#define RAW_TRACEPOINT_PROBE(event)                                            \
	SEC("raw_tracepoint/" #event)                                         \
	int raw_tracepoint__##event(struct bpf_raw_tracepoint_args *ctx)

#define KFUNC_PROBE(func, ...) SEC("fentry/" #func) int BPF_PROG(kfunc__##func, ##__VA_ARGS__)
#define KRETFUNC_PROBE(func, ...) SEC("fexit/" #func) int BPF_PROG(kretfunc__##func, ##__VA_ARGS__)
#define KMOD_RET(func, ...) SEC("fmod_ret/" #func) int BPF_PROG(kmod_ret__##func, ##__VA_ARGS__)
#define LSM_PROBE(hook, ...) SEC("lsm/" #hook) int BPF_PROG(lsm__##hook, ##__VA_ARGS__)

/* ---- USDT (BPF(..., usdt_contexts=[...]) defines PYBPF_BCC_USDT) --------------------
 * bcc's readers on libbpf's usdt.bpf.h: each probe site's argument specs are written to
 * its spec map at attach time, and bpf_usdt_arg() decodes them.  Indexes are 1-based,
 * as in bcc. */
#ifdef PYBPF_BCC_USDT
#include <bpf/usdt.bpf.h>
#define bpf_usdt_readarg(n, ctx, dst) ({                                          \
	long __pybpf_v = 0;                                                       \
	int __pybpf_r = bpf_usdt_arg((struct pt_regs *)(ctx), (n) - 1, &__pybpf_v); \
	*(dst) = (typeof(*(dst)))__pybpf_v;                                       \
	__pybpf_r; })
#define bpf_usdt_readarg_p(n, ctx, buf, len) ({                                   \
	long __pybpf_v = 0;                                                       \
	int __pybpf_r = bpf_usdt_arg((struct pt_regs *)(ctx), (n) - 1, &__pybpf_v); \
	if (!__pybpf_r)                                                           \
		__pybpf_r = bpf_probe_read_user((buf), (len), (void *)__pybpf_v);     \
	__pybpf_r; })
#endif

#endif /* PYBPF_BCC_H */
