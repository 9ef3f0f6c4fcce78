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

#endif
