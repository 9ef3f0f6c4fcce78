/* bitesize's maps: hists (struct comm_key -> struct hist of I/O sizes in Kbytes). */
#ifndef PYBPF_BITESIZE_H
#define PYBPF_BITESIZE_H

struct comm_key {
	char comm[16];
};

#endif
