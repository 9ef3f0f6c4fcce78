/* trace's events: this head, then the probe's values (8 bytes each, or STRING_SIZE bytes
 * for a %s), as tools/trace/__init__.py lays them out. */
#ifndef PYBPF_TRACE_H
#define PYBPF_TRACE_H

struct trace_head {
	__u64 ts_ns;
	__u32 tgid;
	__u32 pid;
	__u32 cpu;
	__u32 probe;          /* the specifier's index */
	char comm[16];
};

#endif
