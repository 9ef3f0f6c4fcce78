/* Sockets for the network tools: the socket behind a file descriptor (for tools on
 * the connect/accept/bind syscall tracepoints) and a sock's addresses. */
#ifndef PYBPF_TOOLS_SOCK_BPF_H
#define PYBPF_TOOLS_SOCK_BPF_H

#define AF_INET 2
#define AF_INET6 10

/* The addresses every network event carries; ports in host order. */
struct addrs {
	__u16 family;
	__u16 lport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Read a caller's IPv4 or IPv6 sockaddr into sa (a short sockaddr_in at the end of a
 * page reads as one); false for any other family. */
static __always_inline bool read_inet_sockaddr(struct sockaddr_in6 *sa, const void *uaddr)
{
	if (bpf_probe_read_user(sa, sizeof(*sa), uaddr))
		bpf_probe_read_user(sa, sizeof(struct sockaddr_in), uaddr);
	return sa->sin6_family == AF_INET || sa->sin6_family == AF_INET6;
}

/* The event of the connection tools (tcpconnect, tcpaccept). */
struct conn_event {
	__u64 ts_ns;
	__u32 pid;
	__u32 uid;
	struct addrs a;
	char comm[16];
};

/* The struct socket of fd in the current task (NULL if fd is out of range). */
static __always_inline struct socket *socket_of_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

static __always_inline void sk_addrs(struct sock *sk, struct addrs *a)
{
	a->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	a->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	a->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (a->family == AF_INET) {
		bpf_core_read(a->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(a->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(a->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(a->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* struct addrs from a sock tracepoint's own fields (inet_sock_set_state,
 * tcp_retransmit_skb: they share these names), by probe reads: with CO-RE offsets the
 * compiler may address the context through a register, which the verifier refuses for
 * direct loads. */
#define tp_addrs(ctx, a) do {                                                   \
	bpf_core_read(&(a)->family, 2, &(ctx)->family);                        \
	tp_ports_addrs(ctx, a);                                                \
} while (0)

/* The same, for a family already in a->family (a record without one, see tcpretrans). */
#define tp_ports_addrs(ctx, a) do {                                             \
	bpf_core_read(&(a)->lport, 2, &(ctx)->sport);                          \
	bpf_core_read(&(a)->dport, 2, &(ctx)->dport);                          \
	if ((a)->family == AF_INET) {                                          \
		bpf_probe_read_kernel((a)->saddr, 4, (ctx)->saddr);            \
		bpf_probe_read_kernel((a)->daddr, 4, (ctx)->daddr);            \
	} else {                                                               \
		bpf_probe_read_kernel((a)->saddr, 16, (ctx)->saddr_v6);        \
		bpf_probe_read_kernel((a)->daddr, 16, (ctx)->daddr_v6);        \
	}                                                                      \
} while (0)

/* The -L/-D (local/remote port) and -4/-6 filters of the TCP tools. */
const volatile __u16 targ_lports[8] = {};
const volatile int n_lports = 0;
const volatile __u16 targ_dports[8] = {};
const volatile int n_dports = 0;
const volatile int targ_family = 0;

static __always_inline bool port_in(const volatile __u16 *ports, int n, __u16 port)
{
	int i;

	if (!n)
		return true;
	for (i = 0; i < 8; i++)
		if (i < n && ports[i] == port)
			return true;
	return false;
}

static __always_inline bool addrs_wanted(struct addrs *a)
{
	if (targ_family && a->family != targ_family)
		return false;
	return port_in(targ_lports, n_lports, a->lport) &&
	       port_in(targ_dports, n_dports, a->dport);
}

#endif
