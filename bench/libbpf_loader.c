/* libbpf_loader OBJ DIR: load OBJ with libbpf and pin each loaded program as DIR/<name>
 * TETLOAD_SKIP="p1,p2": programs not to load (autoload false), as Tetragon's Go loader
 * drops programs it does not need.  TETLOAD_TARGET_LSM / TETLOAD_TARGET_TRACING: the kernel
 * hook set (bpf_program__set_attach_target(p, 0, hook)) on LSM / fentry-fexit programs whose
 * section names none or a Tetragon placeholder ("lsm", "fentry/generic_..."), as Tetragon's
 * loader sets AttachTo.  TETLOAD_PINMAPS=DIR pins the maps there too.
 * TETLOAD_SECTIONS="prog=sec,...": load prog as if its SEC() were sec (bpf_program__set_type
 * and set_expected_attach_type from libbpf_prog_type_by_name).
 * TETLOAD_MAX_ENTRIES="map=N,...": bpf_map__set_max_entries before load (maps the object
 * lacks are skipped); TETLOAD_INNER_RINGBUF=
 * "map=BYTES": a ring buffer of BYTES as the inner map template of a map-in-map (both as
 * Falco's libpman sizes its per-CPU maps and ring-buffer array).  Prints "load_ns N"
 * (open+load) on stderr.
 * TETLOAD_ONLY=prog: load that program alone (autoload off for the others, on for it even
 * under SEC("?...")), as the kernel selftests' test_loader loads each program of an object.
 * libbpf_loader --link OUT IN...: link objects as bpftool gen object does, with this libbpf.
 * TETLOAD_BTF=PATH: CO-RE against the BTF of PATH instead of the kernel's (btf_custom_path,
 * as the selftests' core_reloc tests load test_core_reloc_*.o against btf__core_reloc_*.o). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int skipped(const char *name)
{
	const char *s = getenv("TETLOAD_SKIP");
	size_t n = strlen(name);
	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l == n && !strncmp(s, name, n))
			return 1;
		s = e ? e + 1 : NULL;
	}
	return 0;
}

/* the value of "name=value" in the comma-separated list $env, copied to out; NULL if absent */
static const char *lookup(const char *env, const char *name, char *out, size_t size)
{
	const char *s = getenv(env);
	size_t n = strlen(name);
	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l > n && s[n] == '=' && !strncmp(s, name, n) && l - n - 1 < size) {
			memcpy(out, s + n + 1, l - n - 1);
			out[l - n - 1] = 0;
			return out;
		}
		s = e ? e + 1 : NULL;
	}
	return NULL;
}

/* "name=N,name=N": calls fn(map, N) for each; -1 on an unknown map or a failed call */
static int each_map_value(struct bpf_object *obj, const char *list,
			  int (*fn)(struct bpf_map *, long long))
{
	char buf[4096], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		struct bpf_map *m;
		if (!eq)
			return -1;
		*eq = 0;
		m = bpf_object__find_map_by_name(obj, tok);
		if (!m)
			continue;	/* as the pybpf side: sized where the object has it */
		if (fn(m, atoll(eq + 1))) {
			fprintf(stderr, "map %s: cannot set %s\n", tok, eq + 1);
			return -1;
		}
	}
	return 0;
}

static int set_max_entries(struct bpf_map *m, long long n)
{
	return bpf_map__set_max_entries(m, n);
}

static int set_inner_ringbuf(struct bpf_map *m, long long bytes)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, bytes, NULL);
	return fd < 0 ? fd : bpf_map__set_inner_map_fd(m, fd);   /* closed at exit */
}

static long long now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *p;
	char path[4096], val[256];
	long long t0;
	int err;

	if (argc >= 4 && !strcmp(argv[1], "--link")) {
		struct bpf_linker *l = bpf_linker__new(argv[2], NULL);
		for (int i = 3; l && i < argc; i++)
			if (bpf_linker__add_file(l, argv[i], NULL)) {
				fprintf(stderr, "cannot link %s\n", argv[i]);
				return 1;
			}
		if (!l || bpf_linker__finalize(l))
			return 1;
		bpf_linker__free(l);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: tetload OBJ DIR\n");
		return 2;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	t0 = now();
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .btf_custom_path = getenv("TETLOAD_BTF"));
	obj = bpf_object__open_file(argv[1], &oopts);
	if (!obj) {
		fprintf(stderr, "open failed: %d\n", -errno);
		return 1;
	}
	bpf_object__for_each_program(p, obj) {
		const char *sec = bpf_program__section_name(p), *slash = strchr(sec, '/');
		const char *hook = NULL;
		if (skipped(bpf_program__name(p)))
			bpf_program__set_autoload(p, false);
		if (getenv("TETLOAD_ONLY"))
			bpf_program__set_autoload(p, !strcmp(getenv("TETLOAD_ONLY"),
							     bpf_program__name(p)));
		if (lookup("TETLOAD_SECTIONS", bpf_program__name(p), val, sizeof(val))) {
			enum bpf_prog_type type;
			enum bpf_attach_type eat;
			if (libbpf_prog_type_by_name(val, &type, &eat)) {
				fprintf(stderr, "unknown section %s\n", val);
				return 1;
			}
			bpf_program__set_type(p, type);
			bpf_program__set_expected_attach_type(p, eat);
		}
		if (slash && strncmp(slash + 1, "generic_", 8))
			continue;
		if (bpf_program__type(p) == BPF_PROG_TYPE_LSM)
			hook = getenv("TETLOAD_TARGET_LSM");
		else if (bpf_program__type(p) == BPF_PROG_TYPE_TRACING)
			hook = getenv("TETLOAD_TARGET_TRACING");
		if (hook && *hook && bpf_program__set_attach_target(p, 0, hook)) {
			fprintf(stderr, "set_attach_target %s failed\n", bpf_program__name(p));
			return 1;
		}
	}
	if (each_map_value(obj, getenv("TETLOAD_MAX_ENTRIES"), set_max_entries) ||
	    each_map_value(obj, getenv("TETLOAD_INNER_RINGBUF"), set_inner_ringbuf))
		return 1;
	err = bpf_object__load(obj);
	fprintf(stderr, "load_ns %lld\n", now() - t0);
	if (err) {
		fprintf(stderr, "failed to load object: %d\n", err);
		return 1;
	}
	mkdir(argv[2], 0700);
	bpf_object__for_each_program(p, obj) {
		if (!bpf_program__autoload(p))
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[2], bpf_program__name(p));
		if (bpf_program__pin(p, path)) {
			fprintf(stderr, "pin %s failed\n", path);
			return 1;
		}
	}
	if (getenv("TETLOAD_PINMAPS") && bpf_object__pin_maps(obj, getenv("TETLOAD_PINMAPS"))) {
		fprintf(stderr, "pin maps failed\n");
		return 1;
	}
	bpf_object__close(obj);
	return 0;
}
