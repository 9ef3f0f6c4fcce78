/* Types for tests/test_cdecl.py: padding, anonymous union, bool, char arrays, nested
 * structs and bitfields, as event headers have them. */
#ifndef PT_CTYPE_EVENT_H
#define PT_CTYPE_EVENT_H

#define TASK_COMM_LEN 16

struct pt_inner {
	unsigned short a;
	unsigned long long b;   /* 6 bytes of padding before */
};

struct pt_event {
	int pid;
	bool exit_event;        /* 3 bytes of padding after */
	unsigned int ppid;
	union {
		unsigned long long duration_ns;
		int code;
	};
	char comm[TASK_COMM_LEN];
	struct pt_inner inner;
	unsigned int kind : 4, prio : 3;
	int neg : 5;
	signed char tail;
};

typedef struct pt_event pt_event_t;

#endif
