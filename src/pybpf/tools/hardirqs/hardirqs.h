/* hardirqs' maps: totals (struct irq_key -> __u64) and hists (struct irq_key -> hist). */
#ifndef PYBPF_HARDIRQS_H
#define PYBPF_HARDIRQS_H

struct irq_key {
	char name[32];
};

#endif
