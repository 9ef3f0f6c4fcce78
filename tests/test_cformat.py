"""vmlinux.h generation: hand-built BTF compiled with static asserts, and the real
kernel's header compiling CO-RE programs to the same bytes as bpftool's header."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pybpf.btf import Spec
from pybpf.btf import types as T
from pybpf.btf.cformat import generate_header, vmlinux_h
from pybpf.cache import Cache
from pybpf.toolchain import find_clang
from pybpf.elf import ELFFile
from tests.corpus import build

VMLINUX = "/sys/kernel/btf/vmlinux"
SHF_EXECINSTR = 0x4


def _clang() -> str:
    try:
        return find_clang()
    except Exception as e:  # noqa: BLE001 - no compiler: nothing to check against
        pytest.skip(str(e))


def _cc(tmp_path, header: str, body: str, flags=()) -> bytes:
    return _cc_each([tmp_path], [header], body, flags)[0]


def _cc_each(dirs, headers, body: str, flags=()) -> list[bytes]:
    """``body`` compiled as prog.c in each of ``dirs`` (side by side), each with its own
    header as vmlinux.h: the same command line and file name, so objects compare."""
    procs = []
    for tmp_path, header in zip(dirs, headers):
        d = tmp_path / "inc"
        d.mkdir(exist_ok=True)
        (d / "vmlinux.h").write_text(header)
        (tmp_path / "prog.c").write_text(body)
        procs.append(subprocess.Popen(
            [_clang(), "-O2", "-g", "-target", "bpf", *flags, f"-I{d}",
             "-I/usr/include/x86_64-linux-gnu", "-c", "prog.c", "-o", "prog.o"],
            cwd=tmp_path, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err
    return [(tmp_path / "prog.o").read_bytes() for tmp_path in dirs]


def _spec(types: list) -> Spec:
    s = Spec()
    for t in types:
        s.add(t)
    return s


# ids: 1 int, 2 char, 3 long, 4 unsigned char, 5 short
_BASE = [T.Int("int", 4, T.SIGNED), T.Int("char", 1, T.CHAR | T.SIGNED),
         T.Int("long int", 8, T.SIGNED), T.Int("unsigned char", 1), T.Int("short int", 2, 1)]


def test_layouts_compile_with_static_asserts(tmp_path):
    M = T.Member
    types = _BASE + [
        # 6: struct a { char c; /* 7 bytes hole by aligned() */ long x at 16; } size 32
        T.Struct("a", 32, [M("c", 2, 0), M("x", 3, 128)]),
        # 7: packed struct p { char c; int i at 1; } size 5
        T.Struct("p", 5, [M("c", 2, 0), M("i", 1, 8)]),
        # 8: bitfields with a hole: int f1:3 at 0, int f2:4 at 10, char d at 3
        T.Struct("bf", 4, [M("f1", 1, 0, 3), M("f2", 1, 10, 4), M("d", 2, 24)]),
        T.Ptr(10),                                   # 9: struct cyc *
        T.Struct("cyc", 16, [M("next", 9, 0), M("arr", 11, 64)]),  # 10
        T.Array(5, 1, 4),                            # 11: short[4]
        T.Enum64("big", 8, True, [T.EnumValue("NEG", -5), T.EnumValue("HUGE", 1 << 40)]),
        T.Enum("small", 1, False, [T.EnumValue("S0", 0), T.EnumValue("S1", 1)]),  # 13
        T.Struct("uses_small", 2, [M("e", 13, 0), M("c", 2, 8)]),  # 14
        T.Struct("a", 8, [M("other", 3, 0)]),       # 15: duplicate name -> a___2
        T.FuncProto(1, [T.Param("", 9), T.Param("", 1)]),  # 16
        T.Ptr(16),                                   # 17
        T.Typedef("cb_t", 17),                       # 18
        T.Array(11, 1, 3),                           # 19: short[3][4]
        T.Const(9),                                  # 20: struct cyc *const
        T.Struct("mix", 0, []),                      # 21: empty
        T.Union("", 8, [M("l", 3, 0), M("b", 4, 0)]),  # 22: anonymous union
        T.Struct("outer", 136, [M("cb", 18, 0), M("m", 19, 64), M("cp", 20, 256),
                                M("", 22, 320), M("e", 21, 384), M("x", 12, 384),
                                M("aa", 6, 512), M("a2", 15, 768)]),  # 23
        T.Enum("", 4, False, [T.EnumValue("LONELY", 7)]),  # 24: unreferenced anon enum
    ]
    hdr = generate_header(_spec(types))
    assert "struct a___2 {" in hdr and "} __attribute__((packed));" in hdr
    assert "LONELY = 7" in hdr
    body = """#include "vmlinux.h"
#define off(t, m) __builtin_offsetof(t, m)
_Static_assert(sizeof(struct a) == 32 && off(struct a, x) == 16, "a");
_Static_assert(sizeof(struct p) == 5 && off(struct p, i) == 1, "p");
_Static_assert(sizeof(struct bf) == 4 && off(struct bf, d) == 3, "bf");
_Static_assert(sizeof(enum big) == 8 && NEG == -5 && HUGE == (1LL << 40), "big");
_Static_assert(sizeof(enum small) == 1 && sizeof(struct uses_small) == 2, "small");
_Static_assert(sizeof(struct a___2) == 8, "dup");
_Static_assert(sizeof(struct outer) == 136 && off(struct outer, m) == 8, "outer");
_Static_assert(off(struct outer, cp) == 32 && off(struct outer, l) == 40, "outer2");
_Static_assert(off(struct outer, aa) == 64 && off(struct outer, a2) == 96, "outer3");
_Static_assert(sizeof(((struct outer *)0)->m) == 24, "2-d array");
int probe(struct outer *o) { struct bf b = {.f2 = 5}; return o->cb(o->cp, b.f2) + LONELY; }
"""
    _cc(tmp_path, hdr, body)


@pytest.fixture(scope="module")
def headers(tmp_path_factory):
    if not os.path.exists(VMLINUX):
        pytest.skip("no kernel BTF")
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not os.path.exists(bpftool):
        pytest.skip("bpftool not installed")
    ref = subprocess.run([bpftool, "btf", "dump", "file", VMLINUX, "format", "c"],
                         capture_output=True, text=True, check=True).stdout
    cache = Cache(tmp_path_factory.mktemp("cache"))
    with open(vmlinux_h(cache)) as f:
        ours = f.read()
    return ref, ours


def _top_level_names(text: str) -> list[str]:
    return [ln.split(" {")[0].rstrip(";") for ln in text.splitlines()
            if ln.startswith(("struct ", "union ", "enum ")) and not ln.startswith("\t")]


def test_same_declarations_in_same_order_as_bpftool(headers):
    ref, ours = headers
    # same type names (incl. ___N for duplicates) declared in the same order
    assert _top_level_names(ours) == _top_level_names(ref)


PROGRAMS = {
    "core_read": """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("tp/syscalls/sys_enter_execve")
int ppid(void *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    int tgid = BPF_CORE_READ(t, real_parent, tgid);
    const char *comm = BPF_CORE_READ(t, mm, exe_file, f_path.dentry, d_name.name);
    bpf_printk("%d %s %d", tgid, comm, BPF_CORE_READ(t, signal, oom_score_adj));
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
    "tracepoint": """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(".maps");
SEC("tp/sched/sched_process_exec")
int exec(struct trace_event_raw_sched_process_exec *ctx)
{
    unsigned off = ctx->__data_loc_filename & 0xFFFF;
    char *e = bpf_ringbuf_reserve(&rb, 64, 0);
    if (!e) return 0;
    bpf_probe_read_str(e, 60, (void *)ctx + off);
    *(int *)(e + 60) = ctx->pid ^ ctx->old_pid;
    bpf_ringbuf_submit(e, 0);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
    "pt_regs": """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(unlink, int dfd, struct filename *name)
{
    const char *p = BPF_CORE_READ(name, name);
    bpf_printk("%d %s %lx", dfd, p, PT_REGS_PARM1(ctx) + PT_REGS_RC(ctx));
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
    "bitfields_enums": """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("kprobe/tcp_connect")
int conn(void *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    unsigned long v = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
    v += bpf_core_enum_value(enum bpf_func_id, BPF_FUNC_ringbuf_output);
    v += bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_ARENA);
    v += bpf_core_field_exists(t->rcu_read_lock_nesting) + bpf_core_type_size(struct sock);
    v += TASK_COMM_LEN + bpf_core_field_offset(struct sock, __sk_common.skc_dport);
    bpf_printk("%lu", v);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
    "net": """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
SEC("xdp")
int xdp_len(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) return XDP_PASS;
    return eth->h_proto == bpf_htons(0x86dd) ? XDP_DROP : XDP_PASS;
}
SEC("tc")
int tc_mark(struct __sk_buff *skb) { skb->mark = skb->len + skb->ifindex; return 0; }
SEC("fentry/kfree_skb")
int BPF_PROG(kfree, struct sk_buff *skb)
{
    bpf_printk("%u %u", skb->len, BPF_CORE_READ(skb, dev, ifindex));
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
}


def _sections(obj: bytes) -> dict[str, bytes]:
    elf = ELFFile(obj)
    code = {s.index for s in elf.sections if s.flags & SHF_EXECINSTR}
    out = {}
    for s in elf.sections:
        if s.index in code or s.info in code and s.name.startswith(".rel") \
                or s.name in (".BTF", ".BTF.ext", ".maps", "license", ".rodata"):
            out[s.name] = s.data
    return out


def _btf_shape(raw: bytes, enum_sizes: bool = True) -> list[str]:
    """The types of a .BTF blob with every reference spelled as the referred type's
    shape instead of its id, sorted: equal for the same types in any id order
    (``enum_sizes=False``: enums' sizes and signedness left out)."""
    spec = Spec.parse(raw)
    memo: dict[int, str] = {}

    def ref(tid: int, depth: int = 0) -> str:
        t = spec[tid]
        if t.name or depth > 8:
            return f"{t.kind.name}:{t.name}"
        if tid not in memo:
            memo[tid] = describe(t, depth + 1)
        return memo[tid]

    def describe(t, depth: int = 0) -> str:
        d = {k: getattr(t, k) for k in t.__slots__}
        if not enum_sizes and t.kind in (T.Kind.ENUM, T.Kind.ENUM64):
            d.pop("size", None)
            d.pop("signed", None)
        for k in ("type", "index_type", "return_type"):
            if k in d:
                d[k] = ref(d[k], depth)
        for k in ("members", "params", "vars"):
            if k in d:
                d[k] = [(getattr(x, "name", ""), ref(x.type, depth),
                         getattr(x, "offset_bits", getattr(x, "offset", 0)))
                        for x in d[k]]
        return f"{t.kind.name} {d}"
    return sorted(describe(spec[i]) for i in range(1, len(spec)))


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_programs_compile_identically(headers, tmp_path, name):
    ref, ours = headers
    flags = ["-D__TARGET_ARCH_x86"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # both as prog.c (the objects record the file name), compiled side by side
    a, b = map(_sections, _cc_each([tmp_path / "a", tmp_path / "b"], [ref, ours],
                                   PROGRAMS[name], flags))
    assert sorted(a) == sorted(b)
    assert any(not k.startswith(".") for k in a)  # there are program sections
    for sec in a:
        if sec == ".BTF" and a[sec] != b[sec]:
            # clang numbers the forward declarations it emits last in an order that
            # moves with incidental changes to any header (one extra typedef line in
            # bpftool's own header does it); the types themselves must be the same
            assert _btf_shape(a[sec]) == _btf_shape(b[sec])
            continue
        assert a[sec] == b[sec], f"section {sec} differs"


def test_vmlinux_h_is_cached_per_kernel(headers, tmp_path):
    cache = Cache(tmp_path / "c")
    p1 = vmlinux_h(cache)
    mtime = os.stat(p1).st_mtime_ns
    assert vmlinux_h(cache) == p1 and os.stat(p1).st_mtime_ns == mtime
    assert os.stat(os.path.dirname(p1)).st_mode & 0o777 == 0o700


def test_every_kernel_struct_has_the_kernel_layout(headers, tmp_path):
    """Compile a global of every named struct/union; clang's BTF for them must have the
    kernel's sizes and member offsets (anonymous members checked recursively)."""
    from pybpf.btf.cformat import _Writer
    from pybpf.btf.kernel import load_vmlinux
    from pybpf.btf.types import Kind
    spec = load_vmlinux()
    w = _Writer(spec)
    hdr = w.run()
    decls = []
    for tid in range(1, len(spec)):
        t = spec[tid]
        if t.kind in (Kind.STRUCT, Kind.UNION) and t.name:
            kw = "struct" if t.kind == Kind.STRUCT else "union"
            decls.append(f"{kw} {w.names.get(tid, t.name)} v{tid};")
    # four compiles of a quarter each, side by side: clang's time grows faster than the
    # number of globals (one file of all ~10k takes twice the CPU of four quarters), and
    # neighbouring ids share most of the types they pull in
    (tmp_path / "vmlinux.h").write_text(hdr)
    n = 4
    size = -(-len(decls) // n)
    procs = []
    for i in range(n):
        (tmp_path / f"part{i}.c").write_text(
            '#include "vmlinux.h"\n' + "\n".join(decls[i * size:(i + 1) * size]) + "\n")
        procs.append(subprocess.Popen(
            [_clang(), "-O2", "-g", "-target", "bpf", "-Wno-everything", f"-I{tmp_path}",
             "-I/usr/include/x86_64-linux-gnu", "-c", f"part{i}.c", "-o", f"part{i}.o"],
            cwd=tmp_path, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err
    objs = [Spec.parse(ELFFile((tmp_path / f"part{i}.o").read_bytes()).section(".BTF").data)
            for i in range(n)]
    mods = (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG)
    bad = []

    def check(obj, kt: int, ot: int, path: str) -> None:
        a, b = spec[kt], obj[ot]
        while a.kind in mods:
            a = spec[a.type]
        while b.kind in mods:
            b = obj[b.type]
        if a.kind in (Kind.ENUM, Kind.ENUM64):
            if a.size != getattr(b, "size", None):
                bad.append(f"{path}: enum size {a.size} != {getattr(b, 'size', None)}")
            return
        if a.kind not in (Kind.STRUCT, Kind.UNION):
            return
        if b.kind != a.kind or a.size != b.size or len(a.members) != len(b.members):
            bad.append(f"{path}: size {a.size} != {getattr(b, 'size', None)}")
            return
        for ma, mb in zip(a.members, b.members):
            if (ma.name, ma.offset_bits, ma.bitfield_size) != \
                    (mb.name, mb.offset_bits, mb.bitfield_size):
                bad.append(f"{path}.{ma.name}: {ma} != {mb}")
                return
            if not spec[ma.type].name or spec[ma.type].kind in (Kind.ENUM, Kind.ENUM64):
                check(obj, ma.type, mb.type, f"{path}.{ma.name or '<anon>'}")
    checked = 0
    for obj in objs:
        for i in range(1, len(obj)):
            t = obj[i]
            if t.kind == Kind.VAR and t.name.startswith("v"):
                kt = int(t.name[1:])
                check(obj, kt, t.type, spec[kt].name)
                checked += 1
    assert checked == len(decls) > 1000
    assert not bad, "\n".join(bad[:20])


@pytest.fixture(scope="module")
def corpus_ours(headers, tmp_path_factory):
    """Every corpus program compiled against our vmlinux.h, in parallel and with the same
    command line as the session's corpus build (``corpus_objs``) uses with bpftool's."""
    return build.build(tmp_path_factory.mktemp("corpus-ours"), header=headers[1])


@pytest.mark.parametrize("name", [p.name[:-len(".bpf.c")] for p in build.sources()])
def test_corpus_compiles_identically(corpus_objs, corpus_ours, name):
    """Issue 3: our vmlinux.h compiles every corpus object exactly as bpftool's does."""
    a = _sections(corpus_objs[name].read_bytes())
    b = _sections(corpus_ours[name].read_bytes())
    assert sorted(a) == sorted(b)
    for sec in a:
        if sec == ".BTF" and a[sec] != b[sec]:
            _same_types_or_bpftool_wrong(a[sec], b[sec])
            continue
        assert a[sec] == b[sec], f"section {sec} differs"


def _layouts(spec) -> dict[tuple, tuple]:
    """(kind, name) -> (size, member offsets) of every named struct, union and enum."""
    out = {}
    for i in range(1, len(spec)):
        t = spec[i]
        if t.name and t.kind in (T.Kind.STRUCT, T.Kind.UNION, T.Kind.ENUM):
            out[(t.kind, t.name)] = (t.size, tuple((m.name, m.offset_bits)
                                                   for m in getattr(t, "members", ())))
    return out


def _same_types_or_bpftool_wrong(ref_btf: bytes, our_btf: bytes) -> None:
    """Debian 12's bpftool (libbpf 1.1) writes enums of a non-int size (the kernel's
    1-byte ``enum rw_hint``) as plain enums, which clang makes 4 bytes, so structs holding
    them (``struct inode``) get the wrong layout.  Our header keeps the kernel's sizes
    (``mode(QI)``, as newer libbpf does).  Every type bpftool's header gets right must come
    out identical; where the two differ, ours must have the kernel's layout and bpftool's
    must not."""
    from pybpf.btf.kernel import load_vmlinux
    ra, rb = Spec.parse(ref_btf), Spec.parse(our_btf)
    la, lb = _layouts(ra), _layouts(rb)
    kernel = load_vmlinux()
    differing = set()
    for key in set(la) | set(lb):
        if la.get(key) == lb.get(key):
            continue
        kind, name = key
        kids = kernel.find(name, kind)
        assert kids, f"{name}: differs and is not a kernel type"
        assert lb.get(key) == _layouts_one(kernel, kids[0]), f"{name}: our layout is wrong"
        assert la.get(key) != lb.get(key)
        differing.add(name)

    def keep(line: str) -> bool:
        return not any(f"'name': '{n}'," in line.split("[", 1)[0] for n in differing)
    assert [x for x in _btf_shape(ref_btf) if keep(x)] == \
        [x for x in _btf_shape(our_btf) if keep(x)]


def _layouts_one(spec, tid) -> tuple:
    t = spec[tid]
    return (t.size, tuple((m.name, m.offset_bits) for m in getattr(t, "members", ())))
