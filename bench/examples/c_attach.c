// SPDX-License-Identifier: GPL-2.0
/* The C user side of each example, on libbpf, for bench/bench_examples.py: open, load and
 * attach the same object the Python example loads, the way libbpf-bootstrap's C does,
 * print "attached", then wait for stdin to close and tear down.
 *
 * usage: c_attach EXAMPLE OBJECT   (EXAMPLE picks the manual attach steps)
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#define MAX_LINKS 64

static struct bpf_link *links[MAX_LINKS];
static int nlinks;

static int keep(struct bpf_link *l, const char *what)
{
	if (!l) {
		fprintf(stderr, "attach %s: %s\n", what, strerror(errno));
		return -1;
	}
	links[nlinks++] = l;
	return 0;
}

static int set_bss_int(struct bpf_object *obj, const char *var, long long v, int size)
{
	/* after load: write through the mmapped .bss, as a skeleton's skel->bss does */
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".bss");
	const struct btf *btf = bpf_object__btf(obj);
	int id = btf__find_by_name_kind(btf, ".bss", BTF_KIND_DATASEC);
	const struct btf_type *ds = btf__type_by_id(btf, id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(ds);
	size_t sz;
	char *data = (char *)bpf_map__initial_value(m, &sz);

	for (int i = 0; i < btf_vlen(ds); i++, vs++) {
		const struct btf_type *t = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, t->name_off), var) == 0) {
			memcpy(data + vs->offset, &v, size);
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	const char *ex;
	int sock = -1, err;
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tc_opts, .handle = 1, .priority = 1);
	int tc = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s EXAMPLE OBJECT\n", argv[0]);
		return 2;
	}
	ex = argv[1];
	obj = bpf_object__open_file(argv[2], NULL);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (strcmp(ex, "tc") == 0) {
		/* the port the Python example sets with variables= */
		struct bpf_map *ro = bpf_object__find_map_by_name(obj, ".rodata");
		size_t sz;
		unsigned short *port = (unsigned short *)bpf_map__initial_value(ro, &sz);
		*port = 9999;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "load: %s\n", strerror(-err));
		return 1;
	}
	if (!strcmp(ex, "minimal") || !strcmp(ex, "uprobe"))
		set_bss_int(obj, "my_pid", getpid(), 4);
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		const char *sec = bpf_program__section_name(prog);

		if (!strcmp(ex, "uprobe") && !strcmp(sec, "uprobe")) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = "abs");
			err = keep(bpf_program__attach_uprobe_opts(prog, getpid(), "libc.so.6", 0, &o), name);
		} else if (!strcmp(ex, "uprobe") && !strcmp(sec, "uretprobe")) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = "abs", .retprobe = true);
			err = keep(bpf_program__attach_uprobe_opts(prog, getpid(), "libc.so.6", 0, &o), name);
		} else if (!strcmp(ex, "usdt") && !strcmp(sec, "usdt")) {
			LIBBPF_OPTS(bpf_usdt_opts, o, .usdt_cookie = 0xcafe);
			err = keep(bpf_program__attach_usdt(prog, -1, "/usr/bin/python3.11", "python",
							    "gc__start", &o), name);
		} else if (!strcmp(ex, "tc")) {
			err = bpf_tc_hook_create(&hook);
			if (err && err != -EEXIST) {
				fprintf(stderr, "tc hook: %s\n", strerror(-err));
				return 1;
			}
			tc_opts.prog_fd = bpf_program__fd(prog);
			err = bpf_tc_attach(&hook, &tc_opts);
			tc = !err;
		} else if (!strcmp(ex, "sockfilter")) {
			struct sockaddr_ll sll = { .sll_family = AF_PACKET,
						   .sll_protocol = htons(ETH_P_ALL),
						   .sll_ifindex = if_nametoindex("lo") };
			int fd = bpf_program__fd(prog);

			sock = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
			err = sock < 0 || bind(sock, (struct sockaddr *)&sll, sizeof(sll)) ||
			      setsockopt(sock, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof(fd));
		} else if (!strcmp(ex, "profile")) {
			int ncpu = libbpf_num_possible_cpus();

			err = 0;
			for (int cpu = 0; cpu < ncpu && !err; cpu++) {
				struct perf_event_attr a = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(a),
							     .config = PERF_COUNT_SW_CPU_CLOCK,
							     .sample_freq = 49, .freq = 1 };
				int pfd = syscall(__NR_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

				if (pfd < 0)
					continue;        /* an offline CPU */
				err = keep(bpf_program__attach_perf_event(prog, pfd), name);
			}
		} else {
			err = keep(bpf_program__attach(prog), name);
		}
		if (err) {
			fprintf(stderr, "%s: attach failed\n", name);
			return 1;
		}
	}
	printf("attached\n");
	fflush(stdout);
	while (getchar() != EOF)
		;
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	if (tc) {
		tc_opts.flags = tc_opts.prog_fd = tc_opts.prog_id = 0;
		bpf_tc_detach(&hook, &tc_opts);
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	if (sock >= 0)
		close(sock);
	bpf_object__close(obj);
	return 0;
}
