// SPDX-License-Identifier: GPL-2.0
/* bashreadline: lines bash reads interactively, from a uretprobe on readline() (in
 * bash, or the shared libreadline); the front attaches it to the binary found. */
#include "vmlinux.h"
#include <bpf/bpf_tracing.h>
#include "../_common.bpf.h"
#include "bashreadline.h"

const volatile bool bash_only = true;

RINGBUF_MAP(events, 256 * 1024);

SEC("uretprobe")
int BPF_KRETPROBE(readline_ret, const void *line)
{
	struct event *e;
	char comm[16];

	if (!line)
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	/* other programs link libreadline too */
	if (bash_only && !(comm[0] == 'b' && comm[1] == 'a' && comm[2] == 's' &&
			   comm[3] == 'h' && comm[4] == 0))
		return 0;
	if (!current_wanted())
		return 0;
	e = stamped_event(&events, e);
	if (!e)
		return 0;
	e->pad = 0;
	__builtin_memcpy(e->comm, comm, sizeof(comm));
	if (bpf_probe_read_user_str(e->line, sizeof(e->line), line) < 0)
		e->line[0] = '\0';
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
