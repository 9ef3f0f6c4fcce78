/* Event layout shared by capable.bpf.c and the Python front. */
#ifndef PYBPF_CAPABLE_H
#define PYBPF_CAPABLE_H

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 cap;
	__s32 ret;        /* 0 allowed, else -EPERM */
	__s32 audit;      /* 1 audited, 0 not, -1 unknown (the tracepoint does not say) */
	__s32 insetid;    /* 1 CAP_OPT_INSETID, 0 not, -1 unknown */
	__s32 kstack;
	__s32 ustack;
	__u32 pad;
	char comm[16];
};

#endif
