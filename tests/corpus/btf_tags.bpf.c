// SPDX-License-Identifier: GPL-2.0
/* BTF decl tags and type tags on structs, unions, members, typedefs, variables,
 * functions and parameters: the loader must carry (or sanitize) them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define tagA __attribute__((btf_decl_tag("a")))
#define tagB __attribute__((btf_decl_tag("b")))
#define tagC __attribute__((btf_decl_tag("c")))
#define utag __attribute__((btf_type_tag("user")))

struct tg_s {
	char tagA foo;
	char tagB bar;
} tagC;

union tg_u {
	char tagA foo;
	char tagB bar;
} tagC;

typedef tagB char tg_td;

struct tg_s tagA tg_s1;
union tg_u tagB tg_u1;
tg_td tagA tg_t1;
int utag *tg_ptr;

__noinline int tagC tg_decl1(char tagB x, char tagC y)
{
	return x + y + tg_s1.foo + tg_u1.bar + tg_t1;
}

static __noinline int tagA tg_decl2(char tagB x, char tagC y)
{
	return x - y;
}

SEC("socket")
int tg_prog(struct __sk_buff *skb)
{
	return tg_decl1(skb->len, skb->protocol) + tg_decl2(skb->mark, skb->priority);
}

char LICENSE[] SEC("license") = "GPL";
