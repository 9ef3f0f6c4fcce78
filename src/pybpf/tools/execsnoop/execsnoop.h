/* Event layout shared by execsnoop.bpf.c and the Python front (pybpf/tools/execsnoop). */
#ifndef PYBPF_EXECSNOOP_H
#define PYBPF_EXECSNOOP_H

#define TASK_COMM_LEN 16
#define ARGSIZE 128          /* longest single argument kept, NUL included */
#define TOTAL_MAX_ARGS 60    /* the most --max-args may ask for */
#define ARGS_BUF (TOTAL_MAX_ARGS * ARGSIZE)

/* One exec: fixed header, then args_size bytes of NUL-separated strings:
 * the filename, then argv[1..]; user space keeps args_count strings and adds "..." when
 * truncated is set. */
struct event {
	__u64 ts_ns;          /* bpf_ktime_get_ns() at exec exit (CLOCK_MONOTONIC) */
	__u32 pid;            /* tgid, as ps shows it */
	__u32 ppid;           /* real parent's tgid */
	__u32 uid;
	__s32 retval;         /* 0, or the negative errno of a failed exec */
	__u32 args_count;     /* strings to show from args[] (filename counts) */
	__u32 args_size;
	__u32 truncated;      /* argv had more than max_args entries: show "..." */
	__u32 missed;         /* a string was unreadable at entry: re-read after the exec */
	__u32 cpu;            /* the CPU the exec returned on (-C) */
	__u32 _pad;
	char comm[TASK_COMM_LEN];
	char pcomm[TASK_COMM_LEN];  /* the real parent's comm (-M) */
	char args[ARGS_BUF];
};

#endif
