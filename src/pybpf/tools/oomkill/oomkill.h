/* Event layout shared by oomkill.bpf.c and the Python front. */
#ifndef PYBPF_OOMKILL_H
#define PYBPF_OOMKILL_H

struct event {
	__u64 ts_ns;
	__u64 total_vm_kb;    /* the victim's, as mark_victim reports it (0 before 6.2) */
	__u64 anon_rss_kb;
	__u32 tpid;           /* the task whose allocation triggered the kill */
	__u32 kpid;           /* the victim */
	char tcomm[16];
	char kcomm[16];
};

#endif
