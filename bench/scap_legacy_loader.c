/* scap_legacy_loader OBJ DIR: load a legacy eBPF probe the way Falco's libscap loaded its
 * driver/bpf probe (libbpf refuses it: static entry programs, struct bpf_map_def maps), as
 * the oracle pybpf's load is compared with.  Maps: every symbol of SEC("maps") in offset
 * order, a struct bpf_map_def each; TETLOAD_MAX_ENTRIES="map=N,..." resizes some (libscap
 * gives its per-CPU maps one entry per CPU).  Programs: every executable section named
 * "raw_tracepoint/..." or "tracepoint/..." is one program, whole, no BTF; map relocations
 * become map fds.  Each program is pinned as DIR/<its function's name>.  Prints "load_ns N"
 * (open+load) on stderr.  Build: cc -O2 -o scapload scap_legacy_loader.c -lbpf -lelf */
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_MAPS 64

struct map { char name[64]; size_t off; int fd; };

static long long now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long resized(const char *name, long long dflt)
{
	const char *s = getenv("TETLOAD_MAX_ENTRIES");
	size_t n = strlen(name);
	while (s && *s) {
		const char *e = strchr(s, ',');
		if (!strncmp(s, name, n) && s[n] == '=')
			return atoll(s + n + 1);
		s = e ? e + 1 : NULL;
	}
	return dflt;
}

static int by_off(const void *a, const void *b)
{
	const struct map *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

int main(int argc, char **argv)
{
	struct map maps[MAX_MAPS];
	int nmaps = 0, maps_idx = -1, fd, nprogs = 0;
	Elf_Scn *scn = NULL, *symscn = NULL;
	Elf_Data *syms = NULL, *mapdata = NULL;
	GElf_Shdr sh, symsh = {0};
	char license[128] = "GPL", path[4096];
	size_t shstrndx;
	long long t0;
	Elf *elf;

	if (argc != 3) {
		fprintf(stderr, "usage: scapload OBJ DIR\n");
		return 2;
	}
	t0 = now();
	elf_version(EV_CURRENT);
	fd = open(argv[1], O_RDONLY);
	elf = fd < 0 ? NULL : elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx)) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 1;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		gelf_getshdr(scn, &sh);
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type == SHT_SYMTAB) {
			symscn = scn;
			symsh = sh;
			syms = elf_getdata(scn, NULL);
		} else if (!strcmp(name, "maps")) {
			maps_idx = elf_ndxscn(scn);
			mapdata = elf_getdata(scn, NULL);
		} else if (!strcmp(name, "license")) {
			Elf_Data *d = elf_getdata(scn, NULL);
			snprintf(license, sizeof(license), "%.*s", (int)d->d_size, (char *)d->d_buf);
		}
	}
	if (!symscn || maps_idx < 0) {
		fprintf(stderr, "no symbol table or no 'maps' section\n");
		return 1;
	}
	for (size_t i = 0; i < symsh.sh_size / symsh.sh_entsize; i++) {
		GElf_Sym s;
		gelf_getsym(syms, i, &s);
		if (s.st_shndx != maps_idx || GELF_ST_TYPE(s.st_info) == STT_SECTION)
			continue;
		if (nmaps == MAX_MAPS) {
			fprintf(stderr, "too many maps\n");
			return 1;
		}
		snprintf(maps[nmaps].name, sizeof(maps[0].name), "%s",
			 elf_strptr(elf, symsh.sh_link, s.st_name));
		maps[nmaps++].off = s.st_value;
	}
	qsort(maps, nmaps, sizeof(maps[0]), by_off);
	for (int i = 0; i < nmaps; i++) {
		const unsigned int *d = (const unsigned int *)((char *)mapdata->d_buf + maps[i].off);
		LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = d[4]);
		maps[i].fd = bpf_map_create(d[0], NULL, d[1], d[2], resized(maps[i].name, d[3]), &mo);
		if (maps[i].fd < 0) {
			fprintf(stderr, "map %s: %s\n", maps[i].name, strerror(errno));
			return 1;
		}
	}
	mkdir(argv[2], 0700);
	scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name, *fn = NULL;
		enum bpf_prog_type type;
		struct bpf_insn *insns;
		Elf_Scn *r = NULL;
		Elf_Data *d;
		size_t idx = elf_ndxscn(scn);
		int pfd;

		gelf_getshdr(scn, &sh);
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!(sh.sh_flags & SHF_EXECINSTR) || !sh.sh_size)
			continue;
		if (!strncmp(name, "raw_tracepoint/", 15))
			type = BPF_PROG_TYPE_RAW_TRACEPOINT;
		else if (!strncmp(name, "tracepoint/", 11))
			type = BPF_PROG_TYPE_TRACEPOINT;
		else
			continue;
		d = elf_getdata(scn, NULL);
		insns = malloc(d->d_size);
		memcpy(insns, d->d_buf, d->d_size);
		while ((r = elf_nextscn(elf, r))) {     /* its relocations: maps only */
			GElf_Shdr rsh;
			Elf_Data *rd;
			gelf_getshdr(r, &rsh);
			if (rsh.sh_type != SHT_REL || rsh.sh_info != idx)
				continue;
			rd = elf_getdata(r, NULL);
			for (size_t i = 0; i < rsh.sh_size / rsh.sh_entsize; i++) {
				GElf_Rel rel;
				GElf_Sym s;
				int m;
				gelf_getrel(rd, i, &rel);
				gelf_getsym(syms, GELF_R_SYM(rel.r_info), &s);
				struct bpf_insn *in = &insns[rel.r_offset / sizeof(*in)];
				for (m = 0; m < nmaps && maps[m].off != s.st_value; m++)
					;
				if (in->code != (BPF_LD | BPF_IMM | BPF_DW) || m == nmaps) {
					fprintf(stderr, "%s: bad relocation at insn %zu\n", name,
						(size_t)(rel.r_offset / sizeof(*in)));
					return 1;
				}
				in->src_reg = BPF_PSEUDO_MAP_FD;
				in->imm = maps[m].fd;
			}
		}
		for (size_t i = 0; i < symsh.sh_size / symsh.sh_entsize; i++) {
			GElf_Sym s;
			gelf_getsym(syms, i, &s);
			if (s.st_shndx == idx && GELF_ST_TYPE(s.st_info) == STT_FUNC)
				fn = elf_strptr(elf, symsh.sh_link, s.st_name);
		}
		LIBBPF_OPTS(bpf_prog_load_opts, po);
		pfd = bpf_prog_load(type, NULL, license, insns, d->d_size / sizeof(*insns), &po);
		if (pfd < 0) {
			fprintf(stderr, "program %s: %s\n", name, strerror(errno));
			return 1;
		}
		free(insns);
		snprintf(path, sizeof(path), "%s/%s", argv[2], fn ? fn : strrchr(name, '/') + 1);
		if (bpf_obj_pin(pfd, path)) {
			fprintf(stderr, "pin %s: %s\n", path, strerror(errno));
			return 1;
		}
		nprogs++;
	}
	fprintf(stderr, "load_ns %lld\n", now() - t0);
	return nprogs ? 0 : 1;
}
