/* killsnoop sends struct event of ../_signals.bpf.h. */
#ifndef PYBPF_KILLSNOOP_H
#define PYBPF_KILLSNOOP_H

#include "../_signals.bpf.h"

#endif
