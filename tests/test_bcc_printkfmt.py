"""Root-free parts of what bcc's own test suite needed: bpf_trace_printk format warnings,
C++ demangling, bcc's perf_event_attr layout, detect_language, BPF_F_TABLE parsing and
the public/extern table declarations."""

from __future__ import annotations

import ctypes
import os

from pybpf.bcc import printkfmt, shared
from pybpf.bcc.perfattr import Perf
from pybpf.bcc.rewrite import rewrite
from pybpf.bcc.syms import demangle
from pybpf.bcc.utils import detect_language


def test_printk_warns_on_conversions_the_kernel_rejects():
    text = ('int f(void *ctx) {\n'
            '  bpf_trace_printk("%0.2f\\n", 1);\n'
            '  bpf_trace_printk("ok %d %5.3s %-4lu %llx %c %%\\n", 1, "a", 2, 3, 4);\n'
            '  bpf_trace_printk("%lf" " and %Lg\\n", 1, 2);\n'
            '  return 0;\n}\n')
    w = printkfmt.warnings(text)
    assert len(w) == 3
    assert w[0].startswith("bpf_text:2: " + printkfmt.WORDS) and "'%0.2f'" in w[0]
    assert "bpf_text:4:" in w[1] and "'%lf'" in w[1] and "'%Lg'" in w[2]
    assert printkfmt.warnings("int x;") == []


def test_demangle_cpp_names():
    assert demangle("_ZN2ns1fEii") == "ns::f(int, int)"
    assert demangle("_Zbroken") == "_Zbroken"
    assert demangle("main") == "main"


def test_perf_event_attr_layout_matches_the_kernel():
    from pybpf._sys.perf import PerfEventAttr
    a = Perf.perf_event_attr()
    assert ctypes.sizeof(a) == ctypes.sizeof(PerfEventAttr) == a.size == 136
    a.sample_period, a.wakeup_events, a.config1 = 7, 3, 9
    raw = bytes(a)
    assert raw[16:24] == (7).to_bytes(8, "little")
    assert raw[48:52] == (3).to_bytes(4, "little") and raw[56:64] == (9).to_bytes(8, "little")
    a.disabled, a.freq, a.sigtrap = 1, 1, 1
    bits = int.from_bytes(raw[40:48], "little") | int.from_bytes(bytes(a)[40:48], "little")
    assert bits == 1 | (1 << 10) | (1 << 37)          # sigtrap: bit 37 (uapi)


def test_detect_language_prefers_a_runtime_over_c():
    me = os.getpid()
    assert detect_language(["c", "java", "python"], me) == "python"
    assert detect_language(["c", "java"], me) == "c"
    assert detect_language(["java"], me) is None


def test_bpf_f_table_and_shared_declarations_parse():
    rw = rewrite('BPF_F_TABLE("lru_hash", int, u64, lru, 8, BPF_F_NO_COMMON_LRU);',
                 kernel_tags=frozenset())
    assert rw.tables == ["lru"] and "BPF_F_TABLE(lru_hash," in rw.source
    pub, ext = shared.declared('BPF_TABLE_PUBLIC("array", int, int, t1, 10);\n'
                               '/* BPF_TABLE("extern", int, int, no, 1); */\n'
                               'BPF_TABLE("extern", int, int, t2, 10);\n'
                               'BPF_TABLE("hash", int, int, t3, 10);')
    assert pub == ["t1"] and ext == ["t2"]


def test_own_struct_members_shadow_the_sock_macros():
    rw = rewrite("struct sock { u32 *sk_daddr; int sk_num; };\n"
                 "int f(void *ctx) { return 0; }", kernel_tags=frozenset())
    assert "#undef sk_daddr" in rw.source and "#undef sk_num" in rw.source
    rw = rewrite("int f(void *ctx) { return 0; }", kernel_tags=frozenset())
    assert "#undef" not in rw.source


def test_bcc_exec_holds_the_command_until_ready(tmp_path):
    import time
    from pybpf.bcc import execcmd, run
    marker = tmp_path / "ran"
    pid = execcmd.run_cmd(["sh", "-c", f"touch {marker}"])
    time.sleep(0.2)
    assert pid > 0 and not marker.exists() and not execcmd.cmd_exited()   # held
    execcmd.cmd_ready()
    end = time.monotonic() + 10
    while not execcmd.cmd_exited() and time.monotonic() < end:
        time.sleep(0.02)
    assert execcmd.cmd_exited() and marker.exists()
    assert run.ALIASES["bcc.exec"] == "pybpf.bcc.execcmd"


def test_tcp_state2str():
    from pybpf.bcc import tcp
    assert tcp.state2str(1) == "ESTABLISHED" and tcp.state2str(12) == "NEW_SYN_RECV"
    assert tcp.state2str(99) == "99"


def test_static_helpers_get_the_real_context_and_in6_members_are_spelled_out():
    rw = rewrite("BPF_PERF_OUTPUT(ev);\n"
                 "static int h(struct pt_regs *ctx, int r);\n"
                 "static int h(struct pt_regs *ctx, int r) { ev.perf_submit(ctx, &r, 4); "
                 "return 0; }\n"
                 "int f(struct pt_regs *ctx) { struct in6_addr a = {}; "
                 "return h(ctx, a.s6_addr[0] + a.s6_addr32[1]); }\n",
                 kernel_tags=frozenset())
    src = rw.source
    assert src.count("void *__bcc_real_ctx);") >= 1        # the prototype
    assert "h(ctx, a.in6_u.u6_addr8[0] + a.in6_u.u6_addr32[1], __BCC_CTX(ctx))" in src


def test_a_helper_called_from_a_macro_gets_the_real_context_too():
    rw = rewrite("BPF_PERF_OUTPUT(ev);\n"
                 "static int h(struct pt_regs *ctx, int v) { ev.perf_submit(ctx, &v, 4); "
                 "return 0; }\n"
                 "#define CALL h(ctx, 7)\n"
                 "int f(struct pt_regs *ctx) { CALL; return h(ctx, 1); }\n",
                 kernel_tags=frozenset())
    assert "#define CALL h(ctx, 7, __BCC_CTX(ctx))" in rw.source
    assert "return h(ctx, 1, __BCC_CTX(ctx));" in rw.source


def test_rw_text_of_plain_ctypes_values():
    from pybpf import errors
    from pybpf.bcc.rwtext import scanf, sprintf

    class In(ctypes.Structure):
        _fields_ = [("x", ctypes.c_uint32), ("__pad1", ctypes.c_uint8 * 4)]

    class V(ctypes.Structure):
        _fields_ = [("n", ctypes.c_int64), ("s", ctypes.c_char * 6),
                    ("a", In * 2)]
    v = V(-1, b'q"\\', (In(7), In(8)))
    text = sprintf(v)
    assert text == b'{ 0xffffffffffffffff "q\\"\\\\" [ { 0x7 } { 0x8 } ] }'
    w = scanf(text, V)
    assert (w.n, w.s, w.a[1].x) == (-1, b'q"\\', 8)
    assert sprintf(ctypes.c_uint16(10)) == b"0xa" and scanf(b"12", ctypes.c_int).value == 12
    for bad in (b"[ 1 ]", b"{ 1 2", b"{ zz }"):
        try:
            scanf(bad, V)
        except errors.PybpfError:
            continue
        raise AssertionError(bad)


def test_rw_text_scanf_fails_only_with_pybpf_errors():
    from hypothesis import given, settings, strategies as st
    from pybpf import errors
    from pybpf.bcc.rwtext import scanf

    class V(ctypes.Structure):
        _fields_ = [("n", ctypes.c_uint32), ("s", ctypes.c_char * 4),
                    ("a", ctypes.c_uint8 * 2)]

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.binary(max_size=40),
                     st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b'"x"', b"0x1",
                                               b"7", b"-3", b"zz", b'"']),
                              max_size=12).map(b" ".join)))
    def check(text):
        try:
            scanf(text, V)
        except errors.PybpfError:
            pass
    check()
