// SPDX-License-Identifier: GPL-2.0
/* Sleepable uprobe reading user memory with bpf_copy_from_user into an array + ringbuf;
 * non-sleepable uretprobe sending through a perf event array from a percpu scratch buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct line {
	__u32 pid;
	char text[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, int);
	__type(value, __u32);
} lines SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct line);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct line);
} last_cmd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} cmds SEC(".maps");

SEC("uretprobe//bin/bash:readline")
int BPF_KRETPROBE(got_line, const char *ret)
{
	__u32 zero = 0;
	struct line *l = bpf_map_lookup_elem(&scratch, &zero);

	if (!l || !ret)
		return 0;
	l->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_probe_read_user_str(l->text, sizeof(l->text), ret);
	bpf_perf_event_output(ctx, &lines, BPF_F_CURRENT_CPU, l, sizeof(*l));
	return 0;
}

SEC("uprobe.s//bin/bash:execute_command")
int BPF_KPROBE(exec_cmd, void *cmd)
{
	__u32 zero = 0;
	struct line *l = bpf_map_lookup_elem(&last_cmd, &zero);

	if (!l || bpf_copy_from_user(l->text, sizeof(l->text), cmd))
		return 0;
	l->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_ringbuf_output(&cmds, l, sizeof(*l), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
