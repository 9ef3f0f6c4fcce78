// SPDX-License-Identifier: GPL-2.0
/* Bench-only C consumer on libbpf for bench/bench_events.py.
 *
 * usage: consumer OBJ ring|perf TGID COUNT SIZE live|drain
 *   SIZE: ring buffer bytes (ring) or pages per CPU (perf).
 * Loads OBJ with pt_cfg set, attaches, prints "ready", waits for a line on stdin, then
 * counts records until COUNT arrived (or 2 s pass without progress) and prints
 * "received=N seconds=S produced=P dropped=D lost=L".
 * The clock starts at the line on stdin (drain: the storm is over, the buffer is full) or
 * at the first wake-up (live: the storm starts after the line).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static unsigned long long received, lost;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int on_ring(void *ctx, void *data, size_t size)
{
	received++;
	return 0;
}

static void on_perf(void *ctx, int cpu, void *data, __u32 size)
{
	received++;
}

static void on_lost(void *ctx, int cpu, __u64 cnt)
{
	lost += cnt;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "consumer: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct perf_buffer *pb = NULL;
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map, *rodata = NULL;
	unsigned long long want, sum[2] = {0, 0};
	int use_perf, drain, ncpu, err, efd;
	double t0, t_end, last_progress;
	unsigned long long last_seen = 0;
	char line[64];
	__u64 *vals;

	if (argc != 7) {
		fprintf(stderr, "usage: %s OBJ ring|perf TGID COUNT SIZE live|drain\n", argv[0]);
		return 2;
	}
	use_perf = !strcmp(argv[2], "perf");
	want = strtoull(argv[4], NULL, 0);
	drain = !strcmp(argv[6], "drain");

	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		return die("open", errno);
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t n = strlen(name);

		if (bpf_map__is_internal(map) && n >= 7 && !strcmp(name + n - 7, ".rodata"))
			rodata = map;
	}
	if (!rodata)
		return die("no .rodata map", ENOENT);
	{
		size_t sz;
		__u32 *cfg = (__u32 *)bpf_map__initial_value(rodata, &sz);

		if (!cfg || sz < 8)
			return die(".rodata too small", EINVAL);
		cfg[0] = strtoul(argv[3], NULL, 0);   /* target_tgid */
		cfg[1] = use_perf;                     /* use_perf */
	}
	if (!use_perf) {
		err = bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "pt_rb"),
					       strtoul(argv[5], NULL, 0));
		if (err)
			return die("ring size", err);
	}
	err = bpf_object__load(obj);
	if (err)
		return die("load", err);
	prog = bpf_object__find_program_by_name(obj, "pt_storm");
	if (!prog || !bpf_program__attach(prog))
		return die("attach", errno);

	map = bpf_object__find_map_by_name(obj, use_perf ? "pt_pb" : "pt_rb");
	if (use_perf) {
		pb = perf_buffer__new(bpf_map__fd(map), strtoul(argv[5], NULL, 0), on_perf, on_lost,
				      NULL, NULL);
		if (!pb)
			return die("perf_buffer__new", errno);
		efd = perf_buffer__epoll_fd(pb);
	} else {
		rb = ring_buffer__new(bpf_map__fd(map), on_ring, NULL, NULL);
		if (!rb)
			return die("ring_buffer__new", errno);
		efd = ring_buffer__epoll_fd(rb);
	}

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	if (!drain) {   /* live: start the clock at the first wake-up */
		struct epoll_event ev;

		while (epoll_wait(efd, &ev, 1, -1) < 0 && errno == EINTR)
			;
	}
	t0 = last_progress = t_end = now();
	while (received < want) {
		err = use_perf ? perf_buffer__poll(pb, 100) : ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR)
			return die("poll", err);
		t_end = now();
		if (received != last_seen) {
			last_seen = received;
			last_progress = t_end;
		} else if (t_end - last_progress > 2.0) {
			t_end = last_progress;   /* records were lost: stop waiting for them */
			break;
		}
	}
	if (received >= want)
		t_end = now();

	ncpu = libbpf_num_possible_cpus();
	vals = calloc(ncpu, sizeof(*vals));
	for (__u32 k = 0; k < 2; k++) {
		if (bpf_map_lookup_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, "pt_stats")),
					&k, vals) == 0)
			for (int c = 0; c < ncpu; c++)
				sum[k] += vals[c];
	}
	printf("received=%llu seconds=%.6f produced=%llu dropped=%llu lost=%llu\n",
	       received, t_end - t0, sum[0], sum[1], lost);
	ring_buffer__free(rb);
	perf_buffer__free(pb);
	bpf_object__close(obj);
	free(vals);
	return 0;
}
