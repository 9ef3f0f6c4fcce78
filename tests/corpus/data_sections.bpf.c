// SPDX-License-Identifier: GPL-2.0
/* Global data in sections with unusual names: custom .rodata.<x> / .data.<x> sections,
 * static negative constants, a 32-byte anonymous constant (.rodata.cst32 on older
 * clang), hidden and weak variables, padded structs, a page-sized array, section names
 * that are no valid kernel map names. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

volatile const __u32 ds_arg2 SEC(".rodata.test") = 2;
volatile __u32 ds_arg3 SEC(".data.test");
volatile const unsigned int ds_uneg = -1;
volatile const int ds_neg = -2;
static volatile const unsigned int ds_static_uneg = -3;
static volatile const int ds_static_neg = -4;
__hidden volatile __u32 ds_hidden;
__weak volatile __u32 ds_weak SEC(".data.weak");

struct ds_pad {
	__u32 a;
	__u64 b;
	__u16 c;
	__u8 d[5];
	__u64 e;
};
volatile struct ds_pad ds_struct SEC(".data.struct");
volatile __u8 ds_array[8192] SEC(".data.array");
/* a character the kernel refuses in map names ('-': the map is ".data.my_sec") and a
 * name past the kernel's 15 characters */
volatile __u32 ds_dash SEC(".data.my-sec");
volatile __u64 ds_long SEC(".data.a_section_name_longer_than_fifteen");

SEC("socket")
int ds_consts(struct __sk_buff *skb)
{
	if (ds_uneg != (unsigned int)-1)
		return 1;
	if (ds_neg != -2)
		return 2;
	if (ds_static_uneg != (unsigned int)-3)
		return 3;
	if (ds_static_neg != -4)
		return 4;
	return ds_arg2 + ds_arg3;
}

SEC("socket")
int ds_anon_const(struct __sk_buff *skb)
{
	volatile int ctx = skb->len;
	int i;

	for (i = 0; i < 3; i++)
		if (ctx == ((__u64[]){0x0, 0x1, 0x2, 0x3})[i])
			return ((__u64[]){0x0, 0x1, 0x2, 0x3})[i];
	return 0;
}

SEC("socket")
int ds_vars(struct __sk_buff *skb)
{
	ds_hidden = 0xbeef1;
	ds_weak = 0xbeef2;
	ds_dash++;
	ds_long++;
	return ds_struct.a == 0xa && ds_struct.e == 0xe && ds_array[8191] == 0xff;
}

char LICENSE[] SEC("license") = "GPL";
