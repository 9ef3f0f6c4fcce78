/* sigsnoop sends struct event of ../_signals.bpf.h. */
#ifndef PYBPF_SIGSNOOP_H
#define PYBPF_SIGSNOOP_H

#include "../_signals.bpf.h"

#endif
