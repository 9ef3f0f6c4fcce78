// SPDX-License-Identifier: GPL-2.0
/* The firewall for kernels before 5.12: their verifier knows no compare-and-swap and
 * refuses it even in code no packet reaches, so the rate limiter stores its new arrival
 * time plainly.  CPUs racing on one bucket may then let a packet or two more through
 * than the rule's burst; everything else is firewall.bpf.c unchanged. */
#define FW_NO_CAS 1
#include "firewall.bpf.c"
