// SPDX-License-Identifier: GPL-2.0
/* argdist: the fixed half of argdist's object.  tools/_probegen.py appends one program
 * per probe specifier (filter, values, the map it counts in) and compiles the whole
 * text; on its own this builds an object without programs. */
#include "vmlinux.h"
#include "../_common.bpf.h"
#include "../_probegen.bpf.h"
#include "argdist.h"

char LICENSE[] SEC("license") = "GPL";
