// SPDX-License-Identifier: GPL-2.0
/* __ksym externs: an untyped one (address from kallsyms) and a weak missing untyped one (becomes 0).
 * Typed per-cpu variables (runqueues + bpf_per_cpu_ptr) cannot load here: this kernel's kallsyms
 * has no data symbols, so the verifier cannot resolve them (libbpf fails the same way). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern const void bpf_prog_put __ksym;
extern const void pybpf_no_such_symbol __ksym __weak;

__u64 put_addr, missing;

SEC("raw_tp/sched_switch")
int read_syms(void *ctx)
{
	put_addr = (__u64)&bpf_prog_put;
	missing = (__u64)&pybpf_no_such_symbol;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
