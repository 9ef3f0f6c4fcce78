// SPDX-License-Identifier: MIT
/* license and version sections: a non-GPL license (so no GPL-only helpers) and a "version" word. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int accept_all(struct __sk_buff *skb)
{
	return skb->len;
}

char _license[] SEC("license") = "MIT";
__u32 _version SEC("version") = 0x061200;
