/* biolatency's maps: hists (key u32: 0, a dev_t or flags -> struct hist). */
#ifndef PYBPF_BIOLATENCY_H
#define PYBPF_BIOLATENCY_H
#endif
