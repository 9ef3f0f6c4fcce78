/* cpudist's maps: hists (key u32: 0, a pid or a tid -> struct hist from _common.bpf.h). */
#ifndef PYBPF_CPUDIST_H
#define PYBPF_CPUDIST_H
#endif
