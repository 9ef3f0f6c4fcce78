/* argdist's maps, generated per specifier: counts<i> (struct probe<i>_key: its values,
 * 8 bytes each or STRING_SIZE bytes for a char* -> __u64 count, for -C) or hists<i>
 * (__u32 0 -> struct hist of _common.bpf.h, for -H). */
#ifndef PYBPF_ARGDIST_H
#define PYBPF_ARGDIST_H
#endif
