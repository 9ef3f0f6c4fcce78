"""Pure tests of the bcc dialect rewriter, the scanner and the histogram text (no root)."""

from __future__ import annotations

import ctypes

from pybpf.bcc import hist, rewrite, scan
from pybpf.bcc.events import event_type_name
from pybpf.bcc.tpformat import struct_for

FORMAT = """name: sys_enter_openat
ID: 600
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:32;\tsize:4;\tsigned:0;
\tfield:weird_kernel_t odd;\toffset:40;\tsize:4;\tsigned:1;
"""


def test_tracepoint_struct_has_every_field_at_its_offset():
    c = struct_for("syscalls", "sys_enter_openat", FORMAT)
    assert "struct tracepoint__syscalls__sys_enter_openat {" in c
    assert "u8 __pad_12[4];" in c and "const char * filename;" in c
    assert "int data_loc_name;" in c
    assert "s32 odd;" in c                      # unknown type: an int of its size and sign
    assert "offsetof(struct tracepoint__syscalls__sys_enter_openat, filename) == 24" in c


def test_blank_comments_keeps_length_and_lines():
    text = 'int a; // x.lookup(\n/* y { */ char *s = "z { }";\n'
    clean = scan.blank_comments(text)
    assert len(clean) == len(text) and clean.count("\n") == text.count("\n")
    assert "lookup" not in clean and "{" not in clean


def test_functions_found_with_bodies():
    text = "#define X {\nstatic int helper(int a) { return a; }\n" \
           "int probe(struct pt_regs *ctx, int x) {\n if (x) { return 1; }\n return 0;\n}\n"
    fns = scan.functions(text)
    assert [f.name for f in fns] == ["helper", "probe"]
    assert fns[0].is_static and not fns[1].is_static
    assert text[fns[1].body_start] == "{" and text[fns[1].body_end - 1] == "}"
    assert scan.param("const char __user *filename") == ("const char __user *", "filename")


def _rw(src, via="tracepoint"):
    def bind(kind, target, sysname, ret):
        return rewrite.Binding(via, "__x64_sys_" + sysname if sysname else target, sysname,
                               ret, nargs=1)
    return rewrite.rewrite(src, bind=bind)


def test_methods_tables_and_printk_rewritten():
    r = _rw('BPF_TABLE("hash", u32, u64, t, 8);\nBPF_HISTOGRAM(d);\n'
            'int f(void *ctx) { u32 k = 0; t.increment(k); d.increment(1, 2);\n'
            '  bpf_trace_printk("hi %d\\n", k); /* t.lookup( */ return 0; }\n')
    assert r.tables == ["t", "d"]
    src = r.source
    assert "BPF_TABLE(hash, u32, u64, t, 8)" in src
    assert "__bcc_M_increment(&t, k)" in src and "__bcc_M_increment(&d, 1, 2)" in src
    assert '__bcc_trace_printk("hi %d\\n", k)' in src
    assert "/* t.lookup( */" in src             # comments untouched
    assert 'SEC("pybpf/f")' in src              # a generic program: type chosen at load


def test_kprobe_on_syscall_falls_back_to_tracepoint_with_arguments():
    r = _rw("int kprobe__sys_openat(struct pt_regs *ctx, int dfd, const char *name)\n"
            "{ return dfd; }\n")
    p = r.probes["kprobe__sys_openat"]
    assert p.auto and p.section == "tracepoint/syscalls/sys_enter_openat"
    assert "(int)__ctx->args[0], (const char *)__ctx->args[1]" in r.source
    # line numbers are kept: the body's line is still line 2 of the user text
    body = r.source.split('#line 1 "bpf_text"\n', 1)[1]
    assert body.splitlines()[1].startswith("{ return dfd; }")


def test_kretprobe_fallbacks_fill_the_return_register():
    r = _rw("int kretprobe__sys_read(struct pt_regs *ctx) { return PT_REGS_RC(ctx); }")
    assert "tracepoint/syscalls/sys_exit_read" in r.source
    assert "__r->__PT_RC_REG = __ctx->ret" in r.source and "__bcc_standin()" in r.source
    r = _rw("int kretprobe__vfs_read(struct pt_regs *ctx) { return 0; }", via="fexit")
    assert 'SEC("fexit/vfs_read")' in r.source and "ctx[1]" in r.source


def test_kprobe_mode_reads_registers_and_syscall_wrappers():
    r = _rw("int syscall__execve(struct pt_regs *ctx, const char *filename) { return 0; }",
            via="kprobe")
    assert 'SEC("kprobe/__x64_sys_execve")' in r.source
    assert "PT_REGS_PARM1_CORE_SYSCALL(__regs)" in r.source


def test_probe_macros_and_named_probes():
    r = _rw("TRACEPOINT_PROBE(sched, sched_switch) { return 0; }\n"
            "RAW_TRACEPOINT_PROBE(sched_wakeup) { return 0; }\n"
            "KFUNC_PROBE(vfs_read, struct file *f) { return 0; }\n"
            "int tracepoint__syscalls__sys_enter_read(struct tracepoint__syscalls__sys_enter_read"
            " *args) { return 0; }\n")
    kinds = {n: (p.kind, p.section) for n, p in r.probes.items()}
    assert kinds["tracepoint__sched__sched_switch"] == ("tracepoint",
                                                        "tracepoint/sched/sched_switch")
    assert kinds["raw_tracepoint__sched_wakeup"][0] == "raw_tracepoint"
    assert kinds["kfunc__vfs_read"] == ("kfunc", "fentry/vfs_read")
    assert ("syscalls", "sys_enter_read") in r.tracepoints
    assert ("sched", "sched_switch") in r.tracepoints


def test_kernel_includes_dropped_and_license_added():
    r = _rw("#include <uapi/linux/ptrace.h>\n#include <linux/sched.h>\n#include \"mine.h\"\n")
    assert "uapi/linux" not in r.source and '#include "mine.h"' in r.source
    assert 'SEC("license") = "GPL"' in r.source


def test_event_type_found_from_the_submit_call():
    text = "struct data_t { int x; };\nBPF_PERF_OUTPUT(events);\nBPF_RINGBUF_OUTPUT(rb, 4);\n" \
           "int f(void *ctx) { struct data_t data = {}; events.perf_submit(ctx, &data, " \
           "sizeof(data));\n struct data_t *e = rb.ringbuf_reserve(sizeof(*e)); return 0; }"
    assert event_type_name(text, "events") == "struct data_t"
    assert event_type_name(text, "rb") == "struct data_t"
    r = _rw(text)
    assert "void __pybpf_event_events(struct data_t *e) {}" in r.source


def test_log2_hist_text_matches_bcc_layout():
    vals = [0] * 65
    vals[1], vals[3], vals[4] = 1, 4, 2
    lines = hist.log2_lines(vals, "usecs")
    assert lines == [
        "     usecs               : count     distribution",
        "         0 -> 1          : 1        |**********                              |",
        "         2 -> 3          : 0        |                                        |",
        "         4 -> 7          : 4        |****************************************|",
        "         8 -> 15         : 2        |********************                    |",
    ]
    assert hist.log2_lines([0] * 65) == []
    wide = [0] * 65
    wide[40] = 1
    assert hist.log2_lines(wide)[0].startswith("               value")
    assert hist.linear_lines([0, 2, 1], "x")[1:] == [
        "        0          : 0        |                                        |",
        "        1          : 2        |****************************************|",
        "        2          : 1        |********************                    |"]


def test_hist_sections_from_struct_keys(capsys):
    class Key(ctypes.Structure):
        _fields_ = [("disk", ctypes.c_char * 8), ("slot", ctypes.c_uint64)]

    class T:
        pass
    t = T()
    t.Key = Key
    t.items = lambda: [(Key(b"sda", 2), ctypes.c_uint64(3)), (Key(b"sdb", 1),
                                                              ctypes.c_uint64(1))]
    hist.print_table(t, linear=False, val_type="kbytes", section_header="disk",
                     section_print_fn=bytes.decode, bucket_fn=None, strip_leading_zero=None,
                     bucket_sort_fn=sorted)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "" and out[1] == "disk = sda" and out[2].startswith("     kbytes")
    assert "disk = sdb" in out


def test_table_type_named_by_a_string_macro():
    # bcc's xdp_drop_count.py: BPF_TABLE(MAPTYPE, ...) with -DMAPTYPE="percpu_array"
    text = "BPF_TABLE(MAPTYPE, u32, long, dropcnt, 256);\nBPF_TABLE(OTHER, u32, u64, t2, 4);\n"
    out = rewrite.rewrite(text, cflags=["-w", '-DMAPTYPE="percpu_array"']).source
    assert "BPF_TABLE(percpu_array, u32, long, dropcnt, 256)" in out
    assert "BPF_TABLE(OTHER, u32, u64, t2, 4)" in out        # unknown: left to clang
    text = '#define KIND "hash"\nBPF_TABLE(KIND, u32, u64, t, 4);\n'
    assert "BPF_TABLE(hash, u32, u64, t, 4)" in rewrite.rewrite(text).source
