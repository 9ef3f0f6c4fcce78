// SPDX-License-Identifier: GPL-2.0
/* Less common section names and aliases: sk_reuseport(/migrate), lwt_*, raw_tracepoint/, cgroup/skb,
 * cgroup/sock, cgroup/getsockname4, cgroup/post_bind6, xdp.frags/devmap, xdp.frags/cpumap. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("sk_reuseport")
int pick(struct sk_reuseport_md *ctx) { return ctx->len > 0 ? SK_PASS : SK_DROP; }

SEC("sk_reuseport/migrate")
int migrate(struct sk_reuseport_md *ctx) { return SK_PASS; }

SEC("lwt_in")
int lwt_input(struct __sk_buff *skb) { return BPF_OK; }

SEC("lwt_out")
int lwt_output(struct __sk_buff *skb) { return BPF_OK; }

SEC("lwt_xmit")
int lwt_transmit(struct __sk_buff *skb) { return BPF_OK; }

SEC("lwt_seg6local")
int seg6(struct __sk_buff *skb) { return BPF_OK; }

SEC("raw_tracepoint/sched_process_free")
int long_rawtp(void *ctx) { return 0; }

SEC("cgroup/skb")
int cg_skb_any(struct __sk_buff *skb) { return 1; }

SEC("cgroup/sock")
int cg_sock_any(struct bpf_sock *sk) { return 1; }

SEC("cgroup/getsockname4")
int sockname4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/post_bind6")
int post_bind6(struct bpf_sock *sk) { return 1; }

SEC("xdp.frags/devmap")
int frags_dev(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp.frags/cpumap")
int frags_cpu(struct xdp_md *ctx) { return XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
