"""Patterns of real-world bcc scripts (tutorial and workshop labs, learning notes, a book's
tools: docs/STATUS.md, "hwild") that pybpf's bcc front end failed on where bcc runs,
reproduced by scripts of our own with known workloads: a table named as one of the
kernel's private typedefs (``BPF_HASH(config, ...)``), ``dentry->d_iname`` on kernels
that renamed it, a program's own header that
includes kernel headers, ``BPF.attach_xdp``/``remove_xdp`` called on the class,
``from bcc import libbcc`` with ``lib.bpf_prog_test_run``, and tail calls from kprobes
that run on syscall tracepoints (no kprobes here)."""

from __future__ import annotations

import ctypes
import os
import struct

import pytest

from pybpf import errors
from pybpf.bcc import compat, localinc, shadow
from pybpf.bcc.bpf import BPF
from tests.netns import entered

ME = os.getpid()


# ---- root-free: the pieces ---------------------------------------------------------------

CLANG_CLASH = """\
bpf_text:2:10: error: redefinition of 'config' as different kind of symbol
    2 | BPF_HASH(config, u32, u64);
      |          ^
/root/.cache/pybpf/k.d/vmlinux.h:90571:25: note: previous definition is here
 90571 | typedef struct config_s config;
bpf_text:3:79: error: unexpected type name 'config': expected expression
bpf_text:9:5: error: redefinition of 'twice' as different kind of symbol
bpf_text:4:5: note: previous definition is here
2 errors generated.
"""


def test_shadowed_names_only_those_a_header_declared_first():
    # 'twice' clashes with the program's own earlier line: clang's error stands
    assert shadow.shadowed(CLANG_CLASH) == ["config"]
    assert shadow.shadowed("bpf_text:1:1: error: use of undeclared identifier 'x'") == []


def test_hide_renames_the_kernel_name_around_the_prelude_only():
    src = '#include <pybpf_bcc.h>\n#line 1 "bpf_text"\nBPF_HASH(config, u32, u64);\n'
    out = shadow.hide(src, ["config"])
    head, _, body = out.partition('#line 1 "bpf_text"')
    assert head.index("#define config __pybpf_kernel_config") < \
        head.index("#include <pybpf_bcc.h>") < head.index("#undef config")
    assert body == "\nBPF_HASH(config, u32, u64);\n"
    assert shadow.hide(src, []) is None and shadow.hide("int x;", ["config"]) is None


def test_kernel_includes_of_own_headers_followed_through_each_other(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.h").write_text('#include <linux/ip.h>\n#include "sub/b.h"\n'
                                  '#include <stdint.h>\n')
    (tmp_path / "sub" / "b.h").write_text('#include "c.h"\n#include <net/sock.h>\n')
    (tmp_path / "sub" / "c.h").write_text('#include <uapi/linux/ptrace.h>\n'
                                          '#include "a.h"\n')      # a cycle ends
    main = '#include <linux/sched.h>\n#include "a.h"\n#include <bcc/proto.h>\n'
    got = localinc.kernel_includes(main, ["-I" + str(tmp_path)])
    # the main text's own kernel includes are the rewrite's to drop; bcc/proto.h is ours
    assert got == ["linux/ip.h", "net/sock.h", "uapi/linux/ptrace.h"]
    monkeypatch.chdir(tmp_path)                 # text= reads "" includes from the cwd
    assert localinc.kernel_includes('#include "a.h"\n', []) == got
    assert localinc.kernel_includes("int x;", ["-I" + str(tmp_path)]) == []


def test_stand_ins_are_empty_private_files_removed_on_close():
    with localinc.StandIns(["linux/ip.h", "net/sock.h"]) as s:
        assert s.flags == ["-I" + s.path]
        assert os.stat(s.path).st_mode & 0o777 == 0o700
        assert os.path.getsize(os.path.join(s.path, "linux", "ip.h")) == 0
        path = s.path
    assert not os.path.exists(path)
    s.close()                                    # idempotent


def test_attach_xdp_on_the_class_needs_a_loaded_function():
    with pytest.raises(errors.PybpfError, match="load_func"):
        BPF.attach_xdp("lo", object(), 0)


def test_d_iname_spelled_for_kernels_with_shortname_store():
    from pybpf.bcc.prelude import kernel_constants
    new = (b"union shortname_store {\n\tunsigned char string[40];\n\tlong words[5];\n};\n"
           b"struct dentry {\n\tunion shortname_store d_shortname;\n};\n")
    old = b"struct dentry {\n\tunsigned char d_iname[32];\n};\n"
    assert "#define d_iname d_shortname.string" in kernel_constants(new)
    assert "d_iname" not in kernel_constants(old)
    assert "#define DNAME_INLINE_LEN 32" in kernel_constants(old)


def test_bcc_names_older_scripts_use():
    from pybpf.bcc import run, table
    assert (BPF.XDP_ABORTED, BPF.XDP_DROP, BPF.XDP_PASS, BPF.XDP_TX) == (0, 1, 2, 3)
    assert BPF.fix_syscall_fnname(b"sys_clone") == BPF.get_syscall_fnname(b"clone")
    assert BPF.fix_syscall_fnname("__x64_sys_sync") == BPF.get_syscall_fnname("sync")
    assert BPF.fix_syscall_fnname(b"vfs_read") == b"vfs_read"
    assert table.StackTrace.MAX_DEPTH == 127
    assert run.ALIASES["bcc.perf"] == "pybpf.bcc.perfattr"


def test_libbcc_is_a_name_of_the_bcc_module():
    from pybpf.bcc import libbcc
    assert compat.libbcc is libbcc and callable(libbcc.lib.bpf_prog_test_run)


# ---- kernel --------------------------------------------------------------------------------

GETUID_COUNT = """
#include <linux/fs.h>
#include <linux/fs_struct.h>
struct name { char s[32]; };
BPF_HASH(config, u32, u64);
BPF_ARRAY(cwd, struct name, 2);
TRACEPOINT_PROBE(syscalls, sys_enter_getuid) {
    if ((bpf_get_current_pid_tgid() >> 32) != %d)
        return 0;
    u32 k = 0, one = 1;
    u64 zero = 0, *v = config.lookup_or_try_init(&k, &zero);
    if (v)
        __sync_fetch_and_add(v, 1);
    /* the working directory's name, as scripts read it: d_iname (6.14+: d_shortname) */
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct name *n = cwd.lookup(&k), *n1 = cwd.lookup(&one);
    if (n && n1) {
        bpf_probe_read_kernel_str(n->s, sizeof(n->s), t->fs->pwd.dentry->d_iname);
        struct dentry *d = t->fs->pwd.dentry;
        bpf_probe_read_kernel(n1->s, sizeof(n1->s), d->d_iname);
    }
    return 0;
}
""" % ME


@pytest.mark.kernel
def test_table_named_as_a_kernel_typedef_counts_and_d_iname_reads(tmp_path, monkeypatch):
    # 6.18's vmlinux.h has zlib's `typedef struct config_s config;` (learning-ebpf's
    # chapter 4 names its table config); on kernels without it this compiles as before.
    # dentry's d_iname became d_shortname in 6.14: scripts' d_iname reads the same name
    (tmp_path / "wildcwd").mkdir()
    monkeypatch.chdir(tmp_path / "wildcwd")
    with BPF(text=GETUID_COUNT) as b:
        for _ in range(7):
            os.getuid()
        assert b["config"][ctypes.c_uint(0)].value == 7
        assert [b["cwd"][i].s.split(b"\0")[0] for i in (0, 1)] == [b"wildcwd"] * 2
        # Python 2's iteration names, kept by bcc
        assert [(k.value, v.value) for k, v in b["config"].iteritems()] == [(0, 7)]
        assert [v.value for v in b["config"].itervalues()] == [7]


PKT_H = """\
#include <linux/ip.h>
#include <linux/if_ether.h>
#include <linux/udp.h>

static __always_inline int ip_proto(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if (data + sizeof(*eth) + sizeof(struct iphdr) > data_end)
        return -1;
    if (eth->h_proto != bpf_htons(0x0800))          /* ETH_P_IP */
        return -1;
    struct iphdr *ip = data + sizeof(*eth);
    return ip->protocol;
}
"""

XDP_PROG = """
#include "pkt.h"
BPF_ARRAY(protos, u64, 256);
int count_proto(struct xdp_md *ctx) {
    int p = ip_proto(ctx);
    if (p >= 0)
        protos.increment(p);
    return XDP_PASS;
}
"""


def _udp_frame(payload: bytes = b"wild") -> bytes:
    eth = b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", 0x0800)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(payload), 1, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    udp = struct.pack("!HHHH", 40000, 9, 8 + len(payload), 0)
    return eth + ip + udp + payload


@pytest.fixture
def netns():
    """A fresh network namespace with lo up; the test runs inside it."""
    with entered("pybpf-wild") as name:
        yield name


def _send_udp(n: int) -> None:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(n):
            s.sendto(b"x" * 32, ("127.0.0.1", 9))


@pytest.mark.kernel
def test_own_header_with_kernel_includes_xdp_on_the_class_and_libbcc_test_run(
        tmp_path, netns):
    # Liz Rice's packet.py/ping.py: a header beside the program includes <linux/ip.h>;
    # ping.py attaches with BPF.attach_xdp(dev, fn, 0) on the class; the book's test_xdp.py
    # runs the program through libbcc's bpf_prog_test_run
    (tmp_path / "pkt.h").write_text(PKT_H)
    (tmp_path / "prog.c").write_text(XDP_PROG)
    with BPF(src_file=str(tmp_path / "prog.c")) as b:
        fn = b.load_func("count_proto", BPF.XDP)
        protos = b["protos"]
        frame = _udp_frame()
        data = ctypes.create_string_buffer(frame, len(frame))
        out = ctypes.create_string_buffer(1514)
        size_out, retval, duration = ctypes.c_uint32(), ctypes.c_uint32(), ctypes.c_uint32()
        lib = compat.libbcc.lib
        ret = lib.bpf_prog_test_run(fn.fd, 3, ctypes.byref(data), len(frame),
                                    ctypes.byref(out), ctypes.byref(size_out),
                                    ctypes.byref(retval), ctypes.byref(duration))
        assert (ret, retval.value, size_out.value) == (0, 2, len(frame))     # XDP_PASS
        assert out.raw[:len(frame)] == frame
        assert protos[17].value == 3                 # repeat=3: three UDP runs
        # an empty frame is too short for XDP's test runner: -1 with errno, as in C
        assert lib.bpf_prog_test_run(fn.fd, 1, None, 0, None, None, None, None) == -1
        assert ctypes.get_errno() != 0

        protos.clear()
        BPF.attach_xdp("lo", fn, 0)                  # bcc's static form
        _send_udp(5)
        assert protos[17].value == 5
        BPF.remove_xdp("lo", 0)
        _send_udp(4)
        assert protos[17].value == 5


TAIL_CALLS = """
BPF_PROG_ARRAY(chain, 4);
BPF_ARRAY(hits, u64, 4);
int kprobe__sys_getuid(struct pt_regs *ctx) {
    if ((bpf_get_current_pid_tgid() >> 32) != %d)
        return 0;
    hits.increment(0);
    chain.call(ctx, 1);
    return 0;
}
int second(void *ctx) {
    hits.increment(1);
    chain.call(ctx, 2);
    return 0;
}
int third(void *ctx) {
    hits.increment(2);
    return 0;
}
""" % ME


@pytest.mark.kernel
def test_tail_calls_from_a_kprobe_reach_their_targets_wherever_it_runs():
    # a kprobe on a syscall runs on its tracepoint where there are no kprobes: the call
    # passes the real context on, and the targets load_func'd as kprobes take the
    # caller's program type (the prog array holds one type)
    with BPF(text=TAIL_CALLS) as b:
        chain = b.get_table("chain")
        for i, name in ((1, "second"), (2, "third")):
            chain[ctypes.c_int(i)] = ctypes.c_int(b.load_func(name, BPF.KPROBE).fd)
        for _ in range(6):
            os.getuid()
        hits = b["hits"]
        assert [hits[i].value for i in range(3)] == [6, 6, 6]


VFS_LAT = r"""
BPF_HASH(start, u32);
BPF_HISTOGRAM(dist);
BPF_ARRAY(calls, u64, 2);

int do_entry(struct pt_regs *ctx)
{
    if ((bpf_get_current_pid_tgid() >> 32) != %d)
        return 0;
    u32 pid = bpf_get_current_pid_tgid();
    u64 ts = bpf_ktime_get_ns();
    start.update(&pid, &ts);
    calls.increment(0);
    return 0;
}

int do_return(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid();
    u64 *tsp = start.lookup(&pid);
    if (tsp != 0) {
        dist.increment(bpf_log2l((bpf_ktime_get_ns() - *tsp) / 1000));
        start.delete(&pid);
        calls.increment(1);
    }
    return 0;
}
""" % ME


@pytest.mark.needs_hook("kprobe")
def test_kprobe_and_kretprobe_the_script_attaches_see_every_read():
    # the bcc tutorial's vfsreadlat: generic pt_regs functions attached by the script to a
    # kernel function no tracepoint stands in for (kprobes: the kernel-matrix guest)
    from pybpf.features import Features
    from tests.vm import hook_absent
    f = Features()
    with BPF(text=VFS_LAT) as b:
        if not f.has_kprobes() and not f.has_trampolines():
            with pytest.raises(errors.NotSupportedError, match="vfs_read"):
                b.attach_kprobe(event="vfs_read", fn_name="do_entry")
            hook_absent()
            return
        b.attach_kprobe(event="vfs_read", fn_name="do_entry")
        b.attach_kretprobe(event="vfs_read", fn_name="do_return")
        fd = os.open("/dev/zero", os.O_RDONLY)
        try:
            for _ in range(50):
                os.read(fd, 1)
        finally:
            os.close(fd)
        calls = b["calls"]
        # this process's 50 reads and any other read it made meanwhile (an import's)
        assert calls[0].value >= 50 and calls[1].value >= 50, (calls[0].value, calls[1].value)
        assert sum(v.value for _, v in b["dist"].items()) == calls[1].value
