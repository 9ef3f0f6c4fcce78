/* funccount's map: counts, a per-CPU array indexed by the attach cookie (one per probe). */
#ifndef PYBPF_FUNCCOUNT_H
#define PYBPF_FUNCCOUNT_H

#define MAX_PROBES 1024

#endif
