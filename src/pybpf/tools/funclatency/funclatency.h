/* funclatency's maps: hists (key u32: the probe index with -F, else 0 -> struct hist) and
 * totals (per-CPU: [0] count, [1] nanoseconds). */
#ifndef PYBPF_FUNCLATENCY_H
#define PYBPF_FUNCLATENCY_H

#define MAX_DEPTH 16

#endif
