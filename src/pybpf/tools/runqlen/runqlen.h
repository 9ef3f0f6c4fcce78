/* runqlen's map: lens, a per-CPU array of __u64 counts indexed by (cpu * MAX_LEN + len). */
#ifndef PYBPF_RUNQLEN_H
#define PYBPF_RUNQLEN_H

#define MAX_CPUS 128
#define MAX_LEN 32

#endif
