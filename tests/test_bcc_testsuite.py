"""What bcc's own Python test suite (tests/python in bcc's repository) needed of pybpf's bcc
front end, checked with scripts of our own against the real kernel: per-CPU tables as
bcc shapes them, negative array indexes, lookup_or_init, BPF_F_TABLE, public/extern
tables, load_funcs/dump_func, ringbuf_query, stack trace values, the probe quota,
SymbolCache, Perf.perf_event_attr, uprobes in another mount namespace, bcc.disassembler
listings and missed table lookups."""

from __future__ import annotations

import ctypes
import mmap
import os
import time

import pytest

from pybpf import errors
from pybpf.bcc.bpf import BPF
from pybpf.bcc.compat import Perf, PerfSWConfig, SymbolCache, _get_num_open_probes
from pybpf.bcc.syms import demangle

pytestmark = pytest.mark.kernel
ME = os.getpid()

# counts getuid calls of this process only (other processes call it too)
GETUID = """
TRACEPOINT_PROBE(syscalls, sys_enter_getuid) {
    if ((bpf_get_current_pid_tgid() >> 32) != %d)
        return 0;
    BODY
    return 0;
}
""" % ME


def _prog(decls: str, body: str) -> str:
    return decls + GETUID.replace("BODY", body)


def _getuid(n: int) -> None:
    for _ in range(n):
        os.getuid()


def test_percpu_table_leaf_is_an_array_per_cpu_with_sum_and_reducer():
    text = _prog("BPF_PERCPU_HASH(stats, u32, u64, 4);",
                 "u32 k = 0; u64 z = 0, *v = stats.lookup_or_try_init(&k, &z);"
                 " if (v) *v += 1;")
    with BPF(text=text) as b:
        t = b.get_table("stats")
        assert t.sLeaf is ctypes.c_ulonglong or ctypes.sizeof(t.sLeaf) == 8
        ini = t.Leaf()                       # an array, one slot per possible CPU
        assert len(ini) == t.total_cpu
        for i in range(len(ini)):
            ini[i] = 0
        t[t.Key(0)] = ini
        _getuid(5)
        assert len(t[t.Key(0)]) == t.total_cpu
        assert t.sum(t.Key(0)).value == 5
        assert t.max(t.Key(0)).value >= 1
        r = b.get_table("stats", reducer=lambda x, y: t.sLeaf(x + y))
        v = r[r.Key(0)]
        assert (v.value if hasattr(v, "value") else v) == 5
        assert sum(r.getvalue(r.Key(0))) == 5


def test_array_negative_index_counts_from_the_end():
    with BPF(text="BPF_ARRAY(a, u64, 8);") as b:
        a = b["a"]
        a[-1] = ctypes.c_ulonglong(7)
        assert a[7].value == 7 and a[-1].value == 7
        with pytest.raises(IndexError):
            a[-9]
        with pytest.raises(IndexError):
            a[8] = ctypes.c_ulonglong(1)


def test_lookup_or_init_pointer_needs_no_check():
    # bcc returns from the probe when the entry cannot be made: the verifier accepts the
    # unchecked increment
    text = _prog("BPF_HASH(n, u32, u64);",
                 "u32 k = 1; u64 z = 0; u64 *v = n.lookup_or_init(&k, &z); (*v)++;")
    with BPF(text=text) as b:
        _getuid(4)
        assert b["n"][ctypes.c_uint(1)].value == 4


def test_bpf_f_table_passes_its_flags():
    with BPF(text='BPF_F_TABLE("hash", int, u64, h, 64, BPF_F_NO_PREALLOC);'
                  'BPF_F_TABLE("lru_hash", int, u64, l, 64, BPF_F_NO_COMMON_LRU);') as b:
        assert b["h"].flags == 1 and b["l"].flags == 2
        b["h"][ctypes.c_int(3)] = ctypes.c_ulonglong(9)
        assert b["h"][ctypes.c_int(3)].value == 9


def test_public_table_is_shared_with_an_extern_declaration():
    with BPF(text='BPF_TABLE_PUBLIC("array", int, u64, shared_counts, 4);') as b1:
        text = _prog('BPF_TABLE("extern", int, u64, shared_counts, 4);',
                     "int k = 2; u64 *v = shared_counts.lookup(&k); if (v) *v += 1;")
        with BPF(text=text) as b2:
            _getuid(3)
            assert b2["shared_counts"][2].value == 3
        assert b1["shared_counts"][2].value == 3      # the same map
    with pytest.raises(errors.PybpfError, match="no BPF object of this process publishes"):
        BPF(text='BPF_TABLE("extern", int, u64, shared_counts, 4);')


def test_dump_func_load_funcs_and_a_probe_returning_a_pointer():
    text = """
struct sock { u32 *sk_daddr; };
int entry(void) { return 1; }
u32 *ptr_probe(struct pt_regs *ctx, struct sock *skp) { return *(&skp->sk_daddr); }
"""
    with BPF(text=text) as b:
        # mov r0, 1; exit
        assert b.dump_func("entry") == bytes.fromhex("b700000001000000" "9500000000000000")
        fns = b.load_funcs(BPF.KPROBE)
        assert sorted(f.name for f in fns) == [b"entry", b"ptr_probe"]
        assert all(f.fd > 0 for f in fns)
        with pytest.raises(errors.PybpfError, match="no function"):
            b.dump_func("nope")


def test_prog_array_takes_a_c_int_descriptor_and_deletes():
    with BPF(text="BPF_PROG_ARRAY(jmp, 4);") as b1, \
            BPF(text="int target(struct pt_regs *ctx) { return 0; }") as b2:
        fn = b2.load_func("target", BPF.KPROBE)
        b1["jmp"][ctypes.c_int(0)] = ctypes.c_int(fn.fd)
        assert b1["jmp"][ctypes.c_int(0)].value > 0      # the kernel gives the prog id
        b1["jmp"].__delitem__(ctypes.c_int(0))
        with pytest.raises(KeyError):
            b1["jmp"][ctypes.c_int(0)]


def test_int128_keys_and_values_are_two_u64_halves():
    with BPF(text="BPF_HASH(t, unsigned __int128, __int128);") as b:
        t = b["t"]
        assert ctypes.sizeof(t.Key) == 16 and ctypes.sizeof(t.Leaf) == 16
        t[t.Key(1, 2)] = t.Leaf(42, 123456789)
        [(k, v)] = t.items()
        assert list(k) == [1, 2] and list(v) == [42, 123456789]


def test_ringbuf_query_reports_the_ring_size():
    text = _prog("BPF_RINGBUF_OUTPUT(events, 8);",
                 "u64 size = events.ringbuf_query(BPF_RB_RING_SIZE);"
                 " events.ringbuf_output(&size, sizeof(size), 0);")
    got = []
    with BPF(text=text) as b:
        b["events"].open_ring_buffer(
            lambda ctx, data, size: got.append(ctypes.cast(data, ctypes.POINTER(ctypes.c_uint64))[0]))
        _getuid(2)
        b.ring_buffer_poll(100)
    assert got == [8 * mmap.PAGESIZE] * 2


def test_stack_trace_value_has_bcc_ip_array():
    text = _prog("BPF_STACK_TRACE(st, 16); BPF_HASH(ids, int, int);",
                 "int k = 0; int id = st.get_stackid(args, 0); if (id >= 0) ids.update(&k, &id);")
    with BPF(text=text) as b:
        os.getuid()
        sid = b["ids"][ctypes.c_int(0)].value
        frames = list(b["st"].walk(sid))
        leaf = b["st"][ctypes.c_int(sid)]
        assert frames and list(leaf.ip[:len(frames)]) == frames
        assert b.ksym(frames[0])                 # a kernel function


def test_probe_quota_and_process_wide_probe_count(monkeypatch):
    text = "int count(struct pt_regs *ctx) { return 0; }"
    with BPF(text=text) as b1, BPF(text=text) as b2:
        base = _get_num_open_probes()
        b1.attach_uprobe(name="c", sym="getpid", fn_name="count")
        b2.attach_uprobe(name="c", sym="getppid", fn_name="count")
        assert _get_num_open_probes() == base + 2
        monkeypatch.setenv("BCC_PROBE_LIMIT", str(base + 3))
        with pytest.raises(errors.PybpfError, match="probe limit"):
            b1.attach_uprobe(name="c", sym_re="^str", fn_name="count")
        b2.cleanup()
        assert _get_num_open_probes() == base + 1


def test_symbol_cache_resolves_and_demangles():
    libc = ctypes.CDLL("libc.so.6")
    addr = ctypes.cast(libc.getppid, ctypes.c_void_p).value
    sc = SymbolCache(ME)
    name, off, module = sc.resolve(addr, False)
    assert name == b"getppid" and off == 0 and b"libc" in module
    assert sc.resolve_name(b"c", b"getppid") == addr
    assert sc.resolve_name(b"c", b"no_such_function_here") == -1
    assert demangle("_ZN14some_namespace13some_functionEii") == \
        "some_namespace::some_function(int, int)"
    assert demangle("plain_c") == "plain_c"
    assert SymbolCache(-1).resolve_name(None, b"schedule") > 0


def test_perf_event_attr_bits_and_attach_perf_event_raw():
    a = Perf.perf_event_attr()
    assert ctypes.sizeof(a) == 136 == a.size
    a.exclude_kernel, a.precise_ip = 1, 2
    assert int.from_bytes(bytes(a)[40:48], "little") == (1 << 5) | (2 << 15)
    text = """
BPF_ARRAY(faults, u64, 1);
int on_fault(struct bpf_perf_event_data *ctx) {
    if ((bpf_get_current_pid_tgid() >> 32) != %d) return 0;
    int k = 0; u64 *v = faults.lookup(&k); if (v) __sync_fetch_and_add(v, 1);
    return 0;
}""" % ME
    with BPF(text=text) as b:
        attr = Perf.perf_event_attr()
        attr.type = Perf.PERF_TYPE_SOFTWARE
        attr.config = PerfSWConfig.PAGE_FAULTS
        attr.sample_period = 1
        b.attach_perf_event_raw(attr=attr, fn_name="on_fault", pid=ME, cpu=-1)
        m = mmap.mmap(-1, 64 * mmap.PAGESIZE)
        for i in range(64):                  # first touch of each page: one fault each
            m[i * mmap.PAGESIZE] = 1
        m.close()
        assert b["faults"][0].value >= 64


def test_uprobe_on_a_library_in_another_mount_namespace(tmp_path):
    text = """
BPF_ARRAY(hits, u64, 1);
int count(struct pt_regs *ctx) {
    if ((bpf_get_current_pid_tgid() >> 32) != PID) return 0;
    int k = 0; u64 *v = hits.lookup(&k); if (v) __sync_fetch_and_add(v, 1);
    return 0;
}"""
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:                                     # the child: a private /tmp
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            assert libc.unshare(0x00020000) == 0                      # CLONE_NEWNS
            assert libc.mount(None, b"/", None, (1 << 14) | (1 << 18), None) == 0
            assert libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None) == 0
            with open("/lib/x86_64-linux-gnu/libz.so.1", "rb") as src, \
                    open("/tmp/libz.so.1", "wb") as dst:
                dst.write(src.read())
            z = ctypes.CDLL("/tmp/libz.so.1")
            os.write(w, b"r")
            os.read(go_r, 1)
            z.zlibVersion()
            z.zlibVersion()
        finally:
            os._exit(0)
    try:
        assert os.read(r, 1) == b"r"
        assert not os.path.exists("/tmp/libz.so.1")      # only in the child's /tmp
        with BPF(text=text.replace("PID", str(pid))) as b:
            b.attach_uprobe(name=b"/tmp/libz.so.1", sym=b"zlibVersion", fn_name=b"count",
                            pid=pid)
            os.write(go_w, b"g")
            os.waitpid(pid, 0)
            pid = 0
            assert b["hits"][0].value == 2
    finally:
        if pid:
            os.write(go_w, b"g")
            os.waitpid(pid, 0)
        for fd in (r, w, go_r, go_w):
            os.close(fd)


def test_printk_format_warning_shows_on_every_start(capfd):
    text = 'int f(void *ctx) { bpf_trace_printk("%f\\n", 1); return 0; }'
    for _ in range(2):                      # the second start is warm: nothing compiles
        with BPF(text=text):
            pass
        err = capfd.readouterr().err
        assert "bpf_text:1: warning: only %d %u %x" in err and "'%f'" in err


def test_table_is_a_mutable_mapping_popitem_pop_setdefault():
    with BPF(text="struct k { u32 a; u32 b; }; struct v { u64 x; u64 y; };"
                  "BPF_HASH(stats, struct k, struct v, 8);") as b:
        t = b["stats"]
        t[t.Key()] = t.Leaf(100, 200)                # an all-zero key is a key too
        k, v = t.popitem()
        assert (k.a, k.b, v.x, v.y) == (0, 0, 100, 200) and len(t) == 0
        with pytest.raises(KeyError):
            t.popitem()
        assert t.setdefault(t.Key(1, 2), t.Leaf(3, 4)).x == 3
        assert t.setdefault(t.Key(1, 2), t.Leaf(9, 9)).x == 3
        t.update([(t.Key(5, 6), t.Leaf(7, 8))])
        assert t.pop(t.Key(5, 6)).y == 8 and t.pop(t.Key(5, 6), None) is None
        with pytest.raises(KeyError):
            t.pop(t.Key(5, 6))
        assert len(t) == 1


def test_perf_array_counter_read_in_a_program():
    from pybpf.bcc.compat import PerfType
    ncpu = os.cpu_count()
    text = _prog("BPF_PERF_ARRAY(clk, %d); BPF_ARRAY(last, u64, 1);" % ncpu,
                 "u64 v = clk.perf_read(CUR_CPU_IDENTIFIER); int k = 0;"
                 " if ((s64)v > 0) last.update(&k, &v);")
    with BPF(text=text) as b:
        # the task clock of this process: nanoseconds it has run, only ever growing
        b["clk"].open_perf_event(PerfType.SOFTWARE, PerfSWConfig.TASK_CLOCK, pid=ME)
        os.getuid()
        first = b["last"][0].value
        sum(range(200000))                       # run a while
        os.getuid()
        assert 0 < first < b["last"][0].value


def test_linux_version_code_is_the_running_kernel_and_memset_needs_no_include():
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    text = _prog("#include <linux/version.h>\nBPF_ARRAY(r, u64, 2);\n"
                 "struct big { u64 a[4]; };\n",
                 "int k = 0; u64 v = 2;\n"
                 "#if LINUX_VERSION_CODE >= KERNEL_VERSION(%d, %d, 0)\n"
                 "v = 1;\n"
                 "#endif\n"
                 "#if LINUX_VERSION_CODE >= KERNEL_VERSION(%d, %d, 0)\n"
                 "v = 3;\n"
                 "#endif\n"
                 "struct big s; memset(&s, 0, sizeof(s)); s.a[3] = v;\n"
                 "r.update(&k, &s.a[3]);" % (major, minor, major, minor + 1))
    with BPF(text=text) as b:
        os.getuid()
        assert b["r"][0].value == 1        # this kernel's version, and not the next one


USDT_LIB = r"""
#include <sys/sdt.h>
void in_lib(int v) { DTRACE_PROBE1(demo, hit, v); }
"""
USDT_MAIN = r"""
#include <stdio.h>
#include <sys/sdt.h>
void in_lib(int v);
int main(void) {
    char line[8];
    puts("ready"); fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return 1;
    in_lib(1); in_lib(1);
    DTRACE_PROBE1(demo, hit, 2);
    return 0;
}
"""


def test_usdt_probe_in_the_executable_and_its_library_both_fire(tmp_path):
    import subprocess
    from pybpf.bcc.usdt import USDT
    from tests.data.linkprogs import have_sdt_header
    assert have_sdt_header(), "<sys/sdt.h> missing (apt-get install systemtap-sdt-dev)"
    (tmp_path / "lib.c").write_text(USDT_LIB)
    (tmp_path / "main.c").write_text(USDT_MAIN)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "libdemo.so"),
                    str(tmp_path / "lib.c")], check=True)
    subprocess.run(["gcc", "-o", str(tmp_path / "main"), str(tmp_path / "main.c"),
                    "-L" + str(tmp_path), "-ldemo"], check=True)
    p = subprocess.Popen([str(tmp_path / "main")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, LD_LIBRARY_PATH=str(tmp_path)))
    text = """
BPF_HASH(seen, int, u64);
int on_hit(struct pt_regs *ctx) {
    int v = 0; u64 one = 1;
    bpf_usdt_readarg(1, ctx, &v);
    u64 *c = seen.lookup(&v);
    if (c) __sync_fetch_and_add(c, 1); else seen.update(&v, &one);
    return 0;
}"""
    try:
        assert p.stdout.readline().strip() == "ready"
        u = USDT(pid=p.pid)
        u.enable_probe(probe="demo:hit", fn_name="on_hit")
        assert sorted(os.path.basename(b) for _, b, _, _ in u.enabled) == ["libdemo.so",
                                                                        "main"]
        with BPF(text=text, usdt_contexts=[u]) as b:
            p.stdin.write("go\n")
            p.stdin.flush()
            assert p.wait(10) == 0
            got = {k.value: v.value for k, v in b["seen"].items()}
    finally:
        p.kill()
        p.wait()
    assert got == {1: 2, 2: 1}       # twice in the library, once in the executable


def test_items_delete_batch_with_an_array_of_int_keys():
    with BPF(text="BPF_HASH(m, int, int, 16);") as b:
        m = b["m"]
        for i in range(16):
            m[ctypes.c_int(i)] = ctypes.c_int(i * 10)
        keys = (m.Key * 5)(*range(5))            # its items read back as plain ints
        m.items_delete_batch(keys)
        assert sorted(k.value for k in m.keys()) == list(range(5, 16))
        m.items_delete_batch([ctypes.c_int(5), 6])
        assert len(m) == 9
        m.items_delete_batch()
        assert len(m) == 0


def test_map_of_maps_filled_with_get_fd():
    text = _prog("BPF_ARRAY(ex1, u64, 2); BPF_ARRAY(ex2, u64, 2);"
                 'BPF_ARRAY_OF_MAPS(outer, "ex1", 2);',
                 "int k = 1, z = 0; u64 *v; void *inner = outer.lookup(&k);"
                 " if (!inner) return 0;"
                 " v = bpf_map_lookup_elem(inner, &z); if (v) __sync_fetch_and_add(v, 1);")
    with BPF(text=text) as b:
        b["outer"][ctypes.c_int(1)] = ctypes.c_int(b["ex2"].get_fd())
        _getuid(3)
        assert b["ex2"][0].value == 3 and b["ex1"][0].value == 0


def test_bpf_license_define_is_the_program_license():
    gpl_only = _prog("BPF_PERF_OUTPUT(events);",
                     "u64 ts = bpf_ktime_get_ns(); events.perf_submit(args, &ts, sizeof(ts));")
    plain = _prog("BPF_ARRAY(n, u64, 1);",
                  "int k = 0; u64 *v = n.lookup(&k); if (v) __sync_fetch_and_add(v, 1);")
    with pytest.raises(errors.PybpfError, match="GPL"):
        BPF(text=gpl_only + "\n#define BPF_LICENSE Proprietary\n")
    with BPF(text=gpl_only + "\n#define BPF_LICENSE Dual BSD/GPL\n"):
        pass
    with BPF(text=plain + "\n#define BPF_LICENSE Proprietary\n") as b:
        os.getuid()
        assert b["n"][0].value == 1


def test_static_helper_submits_with_the_real_context_on_a_syscall_exit():
    # upstream mountsnoop's shape: the return probe hands its ctx to a static helper
    # that calls perf_submit; on sys_exit_* that ctx is a stand-in pt_regs
    text = """
BPF_PERF_OUTPUT(events);
static int submit(struct pt_regs *ctx, int ret);
static int submit(struct pt_regs *ctx, int ret) {
    u64 v = ret;
    events.perf_submit(ctx, &v, sizeof(v));
    return 0;
}
static int relay(struct pt_regs *ctx) { return submit(ctx, PT_REGS_RC(ctx)); }
int do_ret(struct pt_regs *ctx) {
    if ((bpf_get_current_pid_tgid() >> 32) != %d) return 0;
    return relay(ctx);
}""" % ME
    got = []
    with BPF(text=text) as b:
        b.attach_kretprobe(event=b.get_syscall_fnname("getuid"), fn_name="do_ret")
        b["events"].open_perf_buffer(
            lambda cpu, data, size: got.append(ctypes.cast(
                data, ctypes.POINTER(ctypes.c_uint64))[0]))
        _getuid(3)
        b.perf_buffer_poll(200)
    assert got == [os.getuid()] * 3


def test_in6_addr_member_through_a_kernel_pointer_and_folio_page_compile():
    import socket
    text = """
#include <net/sock.h>
BPF_ARRAY(last, u64, 2);
TRACEPOINT_PROBE(sock, inet_sock_set_state) {
    if (args->family != AF_INET6 || args->newstate != TCP_SYN_SENT) return 0;
    struct sock *sk = (struct sock *)args->skaddr;
    u8 d6[16] = {};
    bpf_probe_read_kernel(&d6, sizeof(d6), (void *)&sk->__sk_common.skc_v6_daddr.s6_addr);
    u64 lo = 0; __builtin_memcpy(&lo, &d6[8], 8);
    int k = 0; last.update(&k, &lo);
    k = 1; u64 port = args->dport; last.update(&k, &port);
    return 0;
}
static __always_inline u64 unused(struct folio *f) { return (u64)folio_page(f, 1); }
"""
    srv = socket.socket(socket.AF_INET6)
    try:
        srv.bind(("::1", 0))
        srv.listen()
        with BPF(text=text) as b:
            c = socket.create_connection(("::1", srv.getsockname()[1]))
            c.close()
            assert b["last"][1].value == srv.getsockname()[1]
            assert b["last"][0].value == 1 << 56        # ::1, its last 8 bytes in memory
    finally:
        srv.close()


def test_a_struct_no_btf_defines_fails_in_one_line():
    text = _prog("struct pybpf_no_such_struct;",
                 "struct pybpf_no_such_struct *p = (void *)0; u64 v = 0;"
                 " bpf_probe_read_kernel(&v, sizeof(v), &p->field);")
    with pytest.raises(errors.CompileError) as ei:
        BPF(text=text)
    msg = str(ei.value)
    assert "\n" not in msg and "struct pybpf_no_such_struct is not defined" in msg
    assert "bpf_text:" in msg and "incomplete definition" in ei.value.diagnostics


def test_rw_text_forms_and_positional_values_with_bitfields():
    text = ("struct val { u64 a; u32 b:4; u32 c:28; char name[8]; u32 arr[2];"
            " struct { u32 x; } s; }; BPF_HASH(t, u32, struct val, 4);")
    with BPF(text=text) as b:
        t = b["t"]
        v = t.Leaf(1, 2, 3, b"ab", (4, 5), (6,))       # C's member order, bitfields too
        assert (v.a, v.b, v.c, v.name, list(v.arr), v.s.x) == (1, 2, 3, b"ab", [4, 5], 6)
        s = t.leaf_sprintf(v)
        assert s == b'{ 0x1 0x2 0x3 "ab" [ 0x4 0x5 ] { 0x6 } }'
        assert t.key_sprintf(t.Key(2)) == b"0x2"
        t[t.key_scanf(b"0x2")] = t.leaf_scanf(s)      # through the kernel and back
        back = t[t.Key(2)]
        assert t.leaf_sprintf(back) == s and back.c == 3
        with pytest.raises(errors.PybpfError):
            t.leaf_scanf(b"{ 0x1 0x2")


def test_packet_members_as_printk_arguments():
    # bcc rewrites packet-header members passed to bpf_trace_printk like any other
    text = """
#include <bcc/proto.h>
BPF_ARRAY(seen, u64, 1);
int handle(struct __sk_buff *skb) {
    u8 *cursor = 0;
    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));
    bpf_trace_printk("pybpf test: dst %llx type %x\\n", ethernet->dst, ethernet->type);
    int k = 0; u64 t = ethernet->type;
    seen.update(&k, &t);
    return 0;
}"""
    with BPF(text=text) as b:
        fn = b.load_func("handle", BPF.SCHED_CLS)
        frame = bytes(6) + bytes.fromhex("020000000001") + b"\x86\xdd" + bytes(50)
        fn.prog.test_run(frame)
        assert b["seen"][0].value == 0x86DD


def test_disassemble_func_decode_table_and_missed_lookups():
    text = _prog("struct key_t {int a; short b; struct {int c:4; int d:8;} e;} "
                 "__attribute__((__packed__));\nBPF_HASH(test_map, struct key_t);\n"
                 "int test_func(void) { return 1; }\n",
                 "struct key_t k = {}; k.a = 1; test_map.increment(k);")
    with BPF(text=text) as b:
        assert b.disassemble_func(b"test_func") == (
            "Disassemble of BPF program b'test_func':\n   0: (b7) r0 = 1\n   1: (95) exit")
        t = b[b"test_map"]
        listing = b.disassemble_func("tracepoint__syscalls__sys_enter_getuid").splitlines()
        # the table's load shows its descriptor, as bcc's listing does
        loads = [x for x in listing if "(18)" in x]
        assert f"r1 = <map at fd #{t.map_fd}>" in "\n".join(loads), listing
        assert any("call bpf_map_lookup_elem#1" in x for x in listing), listing
        head, _, rest = b.decode_table(b"test_map").partition("\n")
        assert head == (f"Layout of BPF map b'test_map' (type HASH, FD {t.map_fd}, "
                        f"ID {t.map.id}):")
        assert rest.splitlines() == ["  struct {", "    int a;", "    short b;",
                                     "    struct {", "      int c:4;", "      int d:8;",
                                     "    } e;", "  } key;", "  unsigned long long value;"]
        _getuid(3)
        k = t.Key(1)
        assert t[k].value == 3
        missing = t.Key(2)
        with pytest.raises(KeyError):       # the fast path (a ctypes key of the table)
            t[missing]
        with pytest.raises(KeyError):       # and the general one (raw bytes)
            t[bytes(missing)]
        assert t.get(missing) is None and k in t and missing not in t


# bcc's checksum pseudo-calls on tc egress, as test_xlate1.c uses them: the TTL (the word
# it shares with the protocol), the UDP destination port (not in the pseudo-header) and
# the source address (in both checksums: BPF_F_PSEUDO_HDR) are rewritten
CKSUM = """
#include <bcc/proto.h>
BPF_ARRAY(hits, u64, 1);
int rewrite(struct __sk_buff *skb) {
    u8 *cursor = 0;
    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));
    if (ethernet->type != 0x0800)
        return 0;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    if (ip->nextp != 17 || ip->hlen != 5)
        return 0;
    struct udp_t *udp = cursor_advance(cursor, sizeof(*udp));
    if (udp->dport != 7777)
        return 0;
    u16 old_word = ip->ttl << 8 | ip->nextp, new_word = 33 << 8 | 17;
    ip->ttl = 33;
    incr_cksum_l3(&ip->hchecksum, old_word, new_word);
    u16 old_port = udp->dport, new_port = 7778;
    udp->dport = new_port;
    incr_cksum_l4(&udp->crc, old_port, new_port, 0);
    u32 old_src = ip->src, new_src = 0x0a620003;      /* 10.98.0.3 */
    ip->src = new_src;
    incr_cksum_l3(&ip->hchecksum, old_src, new_src);
    incr_cksum_l4(&udp->crc, old_src, new_src, 1);
    hits.increment(0);
    return 0;
}
"""


def _csum(data: bytes) -> int:
    """The one's complement sum of 16-bit words (0xffff over a correct header)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _tx_checksum_off(iface: str) -> None:
    """ethtool -K iface tx off: the stack then writes the whole UDP checksum, so the
    bytes on the wire show whether the program kept it right."""
    import fcntl
    import socket
    import struct
    val = ctypes.create_string_buffer(struct.pack("II", 0x17, 0))     # ETHTOOL_STXCSUM
    ifr = struct.pack("16sQ8x", iface.encode(), ctypes.addressof(val))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8946, ifr)                                     # SIOCETHTOOL


def test_incr_cksum_l3_l4_on_tc_egress_keep_a_udp_exchange_working():
    import select
    import socket
    import subprocess

    from pybpf.links import tc
    from tests import netns

    def sh(*cmd):
        subprocess.run(cmd, check=True, capture_output=True)

    with BPF(text=CKSUM) as b, netns.entered("hgck") as _:
        peer = f"hgck2-{ME}"
        sh("ip", "netns", "add", peer)
        me = os.open("/proc/self/ns/net", os.O_RDONLY)
        socks = []
        try:
            sh("ip", "link", "add", "hgck_a", "type", "veth", "peer", "name", "hgck_b",
               "netns", peer)
            sh("ip", "addr", "add", "10.98.0.1/24", "dev", "hgck_a")
            sh("ip", "addr", "add", "10.98.0.3/24", "dev", "hgck_a")
            sh("ip", "link", "set", "hgck_a", "up")
            for cmd in (("addr", "add", "10.98.0.2/24", "dev", "hgck_b"),
                        ("link", "set", "hgck_b", "up"), ("link", "set", "lo", "up")):
                sh("ip", "-n", peer, *cmd)
            _tx_checksum_off("hgck_a")
            target = os.open(f"/run/netns/{peer}", os.O_RDONLY)
            try:
                netns.setns(target)
                raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
                raw.bind(("hgck_b", 0))
                server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                server.bind(("10.98.0.2", 7778))
                server.setsockopt(socket.IPPROTO_IP, 12, 1)          # IP_RECVTTL
            finally:
                netns.setns(me)
                os.close(target)
            client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            client.bind(("0.0.0.0", 0))       # the reply comes to the rewritten address
            socks += [raw, server, client]
            fn = b.load_func("rewrite", BPF.SCHED_CLS)
            with tc.attach(fn.prog, "hgck_a", "egress", mode="netlink"):
                client.sendto(b"pybpf cksum", ("10.98.0.2", 7777))
                assert select.select([server], [], [], 5)[0], "the datagram did not arrive"
                data, anc, _, frm = server.recvmsg(64, socket.CMSG_SPACE(4))
                ttl = int.from_bytes(anc[0][2][:4], "little")
                server.sendto(b"reply", frm)
                assert select.select([client], [], [], 5)[0], "the reply did not arrive"
                reply = client.recv(64)
            frame = b""
            while select.select([raw], [], [], 0)[0]:
                f = raw.recv(2048)
                if len(f) > 42 and f[23] == 17 and f[36:38] == (7778).to_bytes(2, "big"):
                    frame = f
        finally:
            for s in socks:
                s.close()
            os.close(me)
            subprocess.run(["ip", "netns", "del", peer], capture_output=True)
        assert data == b"pybpf cksum" and frm[0] == "10.98.0.3" and ttl == 33
        assert reply == b"reply" and b["hits"][0].value == 1
        ip, udp = frame[14:34], frame[34:34 + int.from_bytes(frame[38:40], "big")]
        assert ip[8] == 33 and _csum(ip) == 0xFFFF            # the header checksum holds
        pseudo = ip[12:20] + b"\0\x11" + len(udp).to_bytes(2, "big")
        assert udp[6:8] != b"\0\0" and _csum(pseudo + udp) == 0xFFFF


def test_several_s_conversions_print_on_this_kernel(capfd):
    # bcc 0.26 warns "cannot use several %s conversion specifiers" (and loads the text
    # anyway): since 5.13 the kernel prints them, so pybpf warns about nothing.  The
    # helper's return is the length it printed (a refused format would be -EINVAL).
    text = _prog("BPF_ARRAY(printed, s64, 1);",
                 'char s1[] = "hello", s2[] = "world"; int k = 0;'
                 ' s64 n = bpf_trace_printk("pybpf %s %s\\n", s1, s2);'
                 " printed.update(&k, &n);")
    with BPF(text=text) as b:
        _getuid(1)
        assert b["printed"][0].value == len("pybpf hello world\n")
    assert "several" not in capfd.readouterr().err
