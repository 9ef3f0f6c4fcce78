/* softirqs' maps: totals and hists keyed by the softirq vector (__u32). */
#ifndef PYBPF_SOFTIRQS_H
#define PYBPF_SOFTIRQS_H
#endif
