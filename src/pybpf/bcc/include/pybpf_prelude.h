/* The heavy, unconditional part of every bcc-dialect compile, precompiled once per kernel
 * and clang (pybpf.bcc.prelude): the kernel's types and libbpf's helper headers.  Nothing
 * here may depend on a macro a program or its cflags define. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
