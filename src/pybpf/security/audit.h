/* pybpf audit: event layout and policy tables, shared by audit.bpf.c, audit_lsm.bpf.c
 * and the Python front (pybpf/security/events.py mirrors the structs). */
#ifndef PYBPF_AUDIT_H
#define PYBPF_AUDIT_H

#define COMM_LEN 16
#define PATH_LEN 256          /* longest path kept (NUL included); longer ones are cut */
#define ARGV_LEN 1024         /* bytes of argv kept */
#define DATA_MAX (2 * PATH_LEN + ARGV_LEN)
#define NPARENTS 4            /* ancestors reported with each event */
#define MAX_RULES 256

/* Event kinds; bit (1 << kind) of settings.kinds turns a kind's reports on. */
enum {
	EV_EXEC = 1,
	EV_OPEN = 2,
	EV_CONNECT = 3,
	EV_ACCEPT = 4,
	EV_PRIV = 5,          /* setuid & co, capset */
	EV_MODULE = 6,
	EV_BPF = 7,
	EV_PTRACE = 8,
};

/* Privilege-changing calls (args[3] of an EV_PRIV event). */
enum {
	PRIV_SETUID = 1, PRIV_SETGID, PRIV_SETREUID, PRIV_SETREGID, PRIV_SETRESUID,
	PRIV_SETRESGID, PRIV_SETFSUID, PRIV_SETFSGID, PRIV_CAPSET,
};

enum { ACT_NONE = 0, ACT_ALERT = 1, ACT_KILL = 2, ACT_DENY = 3 };

/* event.flags */
#define F_MEMFD 1             /* exec of a memfd (fileless) */
#define F_DELETED 2           /* exec of a file with no link left (deleted) */
#define F_TRUNCATED 4         /* a path or argv was cut */

struct ancestor {
	__u32 pid;
	char comm[COMM_LEN];
};

/* What every event carries: 200 bytes, then data_len bytes of data. */
struct event_head {
	__u64 ts_ns;          /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 cgroup_id;      /* cgroup v2 id of the task (the cgroup directory's inode) */
	__u64 args[4];        /* kind-specific numbers (see events.py) */
	__u32 kind;
	__u32 pid;            /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid, euid, gid, egid;
	__u32 rule;           /* index of the matching policy rule, 0: none */
	__u32 action;         /* ACT_*: what was done */
	__u32 flags;
	__s32 ret;            /* the call's result where known (fd, 0, -errno) */
	__u32 data_len;
	__u32 _pad;
	char comm[COMM_LEN];
	struct ancestor parents[NPARENTS];
};

struct event {
	struct event_head h;
	char data[DATA_MAX];
};

/* A syscall event waiting for its exit (the result): small data only. */
struct pending {
	struct event_head h;
	char data[56];
};

/* Sizes handed to bpf_ringbuf_output() are masked so the verifier sees them within the
 * record's memory: an event lives at the start of a 2512-byte scratch value (so any size
 * up to 2047 is readable), a pending record is 256 bytes. */
#define EVENT_MASK 2047
#define PENDING_MASK 255

struct settings {
	__u32 kinds;          /* kinds reported without a rule (1 << EV_*) */
	__u32 self_tgid;      /* the audit itself: never reported */
	__u32 filter_uid;     /* report (rule-less events) only for uids in `uids` */
	__u32 filter_cgroup;  /* ... and only for cgroups in `cgroups` */
	__u32 open_watched;   /* number of entries in open_paths: 0 skips the open hooks */
	__u32 memfd_rule;     /* rule for exec of memfd/deleted files, 0: none */
};

struct rule {
	__u32 action;         /* ACT_* */
	__u32 uid;            /* only this uid (-1: any) */
	__u32 access;         /* opens: 1 read, 2 write, 3 either (0: either) */
	__u32 arg;            /* privilege rules: the uid/gid asked for (-1: any) */
};

/* Path keys: an LPM trie over the path's bytes.  "/usr/bin/nc" is stored with its
 * NUL (prefix length 8*12 bits: only that path matches), "/tmp/" without (every path
 * under it), and a lookup asks with the full key. */
struct path_key {
	__u32 prefixlen;
	char path[PATH_LEN];
};

struct port_key {
	__u16 port;
	__u16 dir;            /* EV_CONNECT or EV_ACCEPT */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

#include "drops.bpf.h"      /* drops, count_drop() */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct rule);
} rules SEC(".maps");

/* rule index of an exec'd binary's path (rules with an exec path condition) */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct path_key);
	__type(value, __u32);
} exec_paths SEC(".maps");

/* watched paths of opens: rule index, or 0 for a watch without a rule */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct path_key);
	__type(value, __u32);
} open_paths SEC(".maps");

/* per-kind rules without a key of their own (any ptrace, any setuid(0), ...) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} kind_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct port_key);
	__type(value, __u32);
} port_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[56]);
	__type(value, __u32);
} module_rules SEC(".maps");

/* filters of rule-less events */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} uids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} cgroups SEC(".maps");

/* per-CPU scratch: an event under construction, a path being assembled, a trie key */
struct scratch {
	struct event ev;
	char buf[2 * PATH_LEN];
	struct path_key key;
	/* where the path being assembled starts in buf: kept in map memory (volatile) so
	 * the verifier sees an unknown, masked value instead of tracking one range per
	 * path through the walk (which explodes its states) */
	volatile __s32 pos;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

#endif
