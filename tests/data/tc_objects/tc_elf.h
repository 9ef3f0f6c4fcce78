/* SPDX-License-Identifier: GPL-2.0 */
/* pybpf's own helpers for writing objects the way `tc ... bpf obj` expects them, used by
 * tests/test_iproute2_objects.py.  Written from what tc's legacy loader does with each
 * field, not from its headers:
 *
 *   SEC("maps") holds an array of struct tc_map_def records, 36 bytes each: the five
 *   words of struct bpf_map_def, then a label (id), where the map is pinned (pinning),
 *   the label of the map whose shape this map-in-map's inner maps take (inner_id), and
 *   the slot this map takes in every map-in-map naming its label (inner_idx).
 *   A program in a section "ID/KEY" is a tail call: the loader stores it at KEY of the
 *   program array labelled ID once loaded.
 */
#ifndef PYBPF_TESTS_TC_ELF_H
#define PYBPF_TESTS_TC_ELF_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct tc_map_def {
	__u32 type;		/* enum bpf_map_type */
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;		/* BPF_F_* map_flags */
	__u32 id;		/* a label, 0: none */
	__u32 pinning;		/* one of the TC_PIN_* below */
	__u32 inner_id;		/* map-in-map: label of the map shaping its inner maps */
	__u32 inner_idx;	/* labelled map: its slot in the map-in-maps naming it */
};
_Static_assert(sizeof(struct tc_map_def) == 36, "tc reads 36-byte records");

/* tc's pinning values: none, a directory per object (named by the SHA-1 of the object
 * file), the directory "globals" shared by every object */
enum {
	TC_PIN_NONE	= 0,
	TC_PIN_OBJECT	= 1,
	TC_PIN_GLOBAL	= 2,
};

/* a legacy map definition, picked up by its section */
#define TC_MAP			SEC("maps")
/* the section tc attaches when the command line names none */
#define TC_ENTRY		SEC("classifier")
/* a program tc stores in slot KEY of the program array labelled ID; the two numbers go
 * into the section name as the preprocessor wrote them (hex stays hex) */
#define TC_TAIL_NAME_(x)	#x
#define TC_TAIL_NAME(x)		TC_TAIL_NAME_(x)
#define TC_TAIL(ID, KEY)	SEC(TC_TAIL_NAME(ID) "/" TC_TAIL_NAME(KEY))

/* BTF key and value types for the legacy map NAME: tc looks for a struct named
 * "____btf_map_" NAME with members "key" and "value"; one instance keeps it in the BTF */
#define TC_MAP_TYPES(NAME, KEY_T, VALUE_T)					\
	struct ____btf_map_##NAME { KEY_T key; VALUE_T value; };		\
	struct ____btf_map_##NAME tc_types_of_##NAME				\
		__attribute__((section(".maps." #NAME), used))

/* bpf_trace_printk with the format copied onto the stack, as tc programs write it
 * (clang -O2 still copies it from a .rodata string, which the loader maps) */
#define tc_log(FMT, ...)							\
	({									\
		char fmt__[] = FMT;						\
		bpf_trace_printk(fmt__, sizeof(fmt__), ##__VA_ARGS__);		\
	})

#define TC_LICENSE(L)	char _license[] SEC("license") = L

#endif
