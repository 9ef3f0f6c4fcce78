// SPDX-License-Identifier: GPL-2.0
/* __weak typed and untyped __ksym variables missing from the kernel become plain 0
 * constants; an untyped one present gets its kallsyms address. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern const void bpf_prog_put __ksym;
extern const void pybpf_no_such_symbol __ksym __weak;
extern const int pybpf_no_such_counter __ksym __weak;

__u64 put_addr, missing, missing_typed;

SEC("raw_tp/sched_switch")
int read_syms(void *ctx)
{
	put_addr = (__u64)&bpf_prog_put;
	missing = (__u64)&pybpf_no_such_symbol;
	missing_typed = (__u64)&pybpf_no_such_counter;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
