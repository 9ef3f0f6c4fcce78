"""Kernel reads written in a bcc program's own macros (``#define PID(t) t->real_parent->tgid``)
become probe reads: the expander alone (pure), the rewritten text (libclang, no BPF), and
programs the verifier accepts that read known pids and addresses from the real kernel."""

from __future__ import annotations

import os
import socket

import pytest

from pybpf.bcc import cmacro, kderef, prelude, rewrite, tpformat

INC = os.path.join(os.path.dirname(rewrite.__file__), "include")


def _expand(text: str, use: str) -> str:
    m = cmacro.Macros(text)
    a = text.rindex(use)
    end, _ = m.use(a)
    assert end == a + len(use)
    return m.expand(a, end)


DEFS = r"""#define PID(t) t->real_parent->tgid
#define PP(x) PID(x)
#define CAT(a, b) a ## b
#define STR(x) #x
#define XSTR(x) STR(x)
#define LOG(fmt, ...) bpf_trace_printk(fmt, ## __VA_ARGS__)
#define CUR ((struct task_struct *)bpf_get_current_task())
#define CURPID CUR->pid
#define SELF SELF + 1
#define ONLY(...) f(0 , ## __VA_ARGS__)
"""


@pytest.mark.parametrize("use,want", [
    ("PID(t)", "t -> real_parent -> tgid"),
    ("PP(t->real_parent)", "t -> real_parent -> real_parent -> tgid"),    # nested, arg
    ("PID(\n   t)", "t -> real_parent -> tgid"),
    ("CAT(sk, _daddr)", "sk_daddr"),
    ("XSTR(PID(q))", '"q->real_parent->tgid"'),     # the argument expands before # sees it
    ("STR(PID(q))", '"PID(q)"'),                     # next to #: not expanded
    ('LOG("x")', 'bpf_trace_printk ( "x" )'),       # GNU , ## __VA_ARGS__ with none
    ('LOG("x %d", 1, 2)', 'bpf_trace_printk ( "x %d" , 1 , 2 )'),
    # given but empty, the variable arguments keep the comma (clang and gcc alike)
    ('LOG("x",)', 'bpf_trace_printk ( "x" , )'),
    ('LOG("x", )', 'bpf_trace_printk ( "x" , )'),
    ("ONLY()", "f ( 0 )"), ("ONLY( )", "f ( 0 )"),      # a lone `...` left empty: gone
    ("ONLY(1)", "f ( 0 , 1 )"),
    ("CURPID", "( ( struct task_struct * ) bpf_get_current_task ( ) ) -> pid"),
])
def test_expansion_follows_the_preprocessor(use, want):
    assert _expand(DEFS + f"int f() {{ return {use}; }}\n", use) == want


def test_a_use_that_cannot_be_expanded_the_same_way_is_left_alone():
    text = DEFS + "int f() { return SELF; }\n"
    with pytest.raises(cmacro.Unsure):
        _expand(text, "SELF")
    a = text.rindex("SELF")
    assert cmacro.expand_uses(text, [(a, a + 4)]) is None
    # a name defined twice under #if: which one holds is not for the text to say
    cond = "#ifdef X\n#define G(p) p->a\n#else\n#define G(p) p->b\n#endif\nint f() { G(q); }\n"
    a = cond.rindex("G(q)")
    assert cmacro.expand_uses(cond, [(a, a + 4)]) is None


def test_skipped_branches_leave_the_definition_the_preprocessor_took():
    cond = "#ifdef X\n#define G(p) p->a\n#else\n#define G(p) p->b\n#endif\nint f() { G(q); }\n"
    a = cond.rindex("G(q)")
    els = cond.index("#else")
    # clang skipped the #else branch: the first body holds
    out = cmacro.expand_uses(cond, [(a, a + 4)], skipped=[(els, cond.index("int f"))])
    assert "{ q -> a\n; }" in out or "q -> a" in out and "q -> b" not in out.split("int f")[1]
    # it skipped the first branch: the second holds
    first = cond.index("#define G(p) p->a")
    out = cmacro.expand_uses(cond, [(a, a + 4)], skipped=[(first, els)])
    assert "q -> b" in out.split("int f")[1]


def test_only_the_given_use_is_expanded_and_lines_are_kept():
    text = DEFS + "int f() {\n  a = PID(\n     t);\n  b = PID(v);\n  return 0;\n}\n"
    a = text.index("PID(\n")
    out = cmacro.expand_uses(text, [(a, a + 3)])
    assert "a = t -> real_parent -> tgid\n;" in out and "b = PID(v);" in out
    assert out.count("\n") == text.count("\n")
    assert out.splitlines()[-2] == "  return 0;"


def test_continued_lines_comments_and_definitions_inside_a_function():
    text = ("#define LONG(t) \\\n   (t)->real_parent \\\n   ->tgid /* c */\nint f() {\n"
            "#define IN(x) x->pid // c\n return LONG(a) + IN(b); }\n")
    assert _expand(text, "LONG(a)") == "( a ) -> real_parent -> tgid"
    assert _expand(text, "IN(b)") == "b -> pid"


def test_undef_and_redefinition_take_the_definition_in_force():
    text = ("#define F(p) p->a\nint f() { F(x); }\n#undef F\nint g() { F(y); }\n"
            "#define F(p) p->b\nint h() { F(z); }\n")
    m = cmacro.Macros(text)
    assert m.use(text.index("F(x)"))[1].body[2].text == "a"
    assert m.use(text.index("F(y)")) is None
    assert m.use(text.index("F(z)"))[1].body[2].text == "b"


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="#define()PQ,x->#\\\n\" '/*", max_size=120),
       st.one_of(st.none(), st.lists(st.tuples(st.integers(0, 130), st.integers(0, 130)),
                                     max_size=3)))
def test_any_text_expands_or_says_unsure(text, skipped):
    """Malformed directives and uses (and any skipped ranges) never raise anything but
    Unsure."""
    m = cmacro.Macros(text, 0, skipped)
    for i, ch in enumerate(text):
        if ch in "PQ":
            try:
                u = m.use(i)
                if u is not None:
                    m.expand(i, u[0])
            except cmacro.Unsure:
                pass


# -- the rewritten text (libclang) --------------------------------------------------------

def _kprobe(kind, target, sysname, ret):
    return rewrite.Binding("kprobe", target, sysname, ret)


def _reads(text: str) -> str:
    rw = rewrite.rewrite(text, bind=_kprobe, tp_struct=tpformat.struct_for)
    vdir, _ = prelude.kernel_dir()
    pch = prelude.pch(vdir, [INC])
    args = prelude.base_args(vdir, [INC]) + (["-include-pch", pch] if pch else [])
    return kderef.apply(rw.source, args, rw).split('#line 1 "bpf_text"\n', 1)[1]


def test_reads_in_macro_bodies_are_rewritten_only_where_a_kernel_pointer_is_used():
    body = _reads(DEFS + r"""
#define VAL(v) v->n
#define FIELD tgid
struct val_t { u32 n; };
BPF_HASH(m, u32, struct val_t);
TRACEPOINT_PROBE(sched, sched_process_exit)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u32 k = 0;
    struct val_t *v = m.lookup(&k);
    if (!v) return 0;
    u32 a = PID(t);
    u32 b = PP(t->real_parent) + t->FIELD;
    u32 c = CURPID + VAL(v);
    VAL(v) = 2;
    return a + b + c + args->pid;
}
""")
    lines = body.splitlines()
    get = lambda s: next(x for x in lines if s in x)     # noqa: E731
    assert get("u32 a =").count("bpf_probe_read_kernel(") == 2
    assert "PID" not in get("u32 a =")
    assert get("u32 b =").count("bpf_probe_read_kernel(") == 4     # 3 hops + t->FIELD
    c = get("u32 c =")
    assert c.count("bpf_probe_read_kernel(") == 1 and c.endswith("+ VAL(v);")   # map value
    assert get("VAL(v) = 2;").strip() == "VAL(v) = 2;"
    # the macros stay defined, and the text keeps its line count
    assert "#define PID(t) t->real_parent->tgid" in body
    assert next(i for i, x in enumerate(lines) if "return a + b" in x) == \
        DEFS.count("\n") + 15


def test_a_statement_macro_continued_over_lines_before_a_probe():
    """The probe after a directive continued with backslashes is still found, and the
    reads inside the macro's assignments (one place in the text) are reads."""
    body = _reads(r"""
struct data_t { u32 ppid; u32 pid; };
#define FILL(d, t) do { d.ppid = t->real_parent->tgid; \
                        d.pid = t->pid; } while (0)
BPF_HASH(m, u32, struct data_t);
#define SAVE(k, d) m.update(&k, &d)
TRACEPOINT_PROBE(sched, sched_process_exec)
{
    struct data_t data = {};
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    FILL(data, task);
    u32 k = 0;
    SAVE(k, data);
    return 0;
}
""")
    line = next(x for x in body.splitlines() if "data . ppid" in x)
    assert line.count("bpf_probe_read_kernel(") == 3
    assert "data . ppid = ({" in line and "data . pid = ({" in line
    # a map method in a macro's body is bcc's too
    assert "#define SAVE(k, d) __bcc_M_update(&m, &k, &d)" in body


# -- the real kernel ---------------------------------------------------------------------

PARENT_BY_MACRO = r"""
#define TASK ((struct task_struct *)bpf_get_current_task())
#define PPID(t) t->real_parent->tgid
#define LEADER(t) t->group_leader
#define TGID_OF(t) (t)->tgid
struct ev_t { u32 pid; u32 ppid; u32 ppid2; u32 leader; char comm[16]; };
BPF_HASH(seen, u32, struct ev_t);
TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    char name[24] = {};
    bpf_probe_read_user_str(name, sizeof(name), args->filename);
    if (name[0] != '/' || name[5] != 'm' || name[6] != 'c' || name[7] != 'r') return 0;
    struct task_struct *t = TASK;
    struct ev_t e = {};
    e.pid = bpf_get_current_pid_tgid() >> 32;
    e.ppid = PPID(t);
    e.ppid2 = TGID_OF(t->real_parent);
    e.leader = TGID_OF(LEADER(TASK));
    bpf_probe_read_kernel_str(e.comm, sizeof(e.comm), LEADER(t)->comm);
    u32 k = e.pid;
    seen.update(&k, &e);
    return 0;
}
"""


@pytest.mark.kernel
def test_real_parent_tgid_read_through_a_macro_is_the_known_parent():
    """A child forks a grandchild that opens a marker path: the program, reading the
    current task's real parent through macros, reports the child's pid."""
    from pybpf.bcc.bpf import BPF
    with BPF(text=PARENT_BY_MACRO) as b:
        child, grand, got = _grandchild_opens(b)
    e = got[grand]
    assert (e.pid, e.ppid, e.ppid2, e.leader) == (grand, child, child, grand)
    with open(f"/proc/{os.getpid()}/comm", "rb") as f:
        assert e.comm == f.read().strip()[:15]


# one macro, two bodies: the first (wrong) one unless the kernel is x86_64
PARENT_BY_CONDITIONAL_MACRO = r"""
#if !defined(CONFIG_X86_64)
#define PPID(t) t->pid
#define WHO(t) t->pid
#else
#define PPID(t) t->real_parent->tgid
#define WHO(t) t->tgid
#endif
struct ev_t { u32 ppid; u32 who; };
BPF_HASH(seen, u32, struct ev_t);
TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    char name[24] = {};
    bpf_probe_read_user_str(name, sizeof(name), args->filename);
    if (name[0] != '/' || name[5] != 'm' || name[6] != 'c' || name[7] != 'r') return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct ev_t e = {};
    e.ppid = PPID(t);
    e.who = WHO(t->group_leader);
    u32 k = bpf_get_current_pid_tgid() >> 32;
    seen.update(&k, &e);
    return 0;
}
"""


def _grandchild_opens(b):
    """(child, grandchild, the program's records): a child forks a grandchild that opens
    a marker path."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            grand = os.fork()
            if grand == 0:
                try:
                    os.open(f"/tmp/mcr-{os.getpid()}-not-there", os.O_RDONLY)
                except OSError:
                    pass
                os._exit(0)
            os.waitpid(grand, 0)
            os.write(w, str(grand).encode())
        finally:
            os._exit(0)
    os.close(w)
    grand = int(os.read(r, 32))
    os.close(r)
    os.waitpid(child, 0)
    return child, grand, {k.value: v for k, v in b["seen"].items()}


@pytest.mark.kernel
def test_a_macro_defined_per_branch_reads_through_the_branch_clang_takes():
    """bcc compiles with the kernel's CONFIG_ values: the x86_64 branch's bodies read the
    real parent's tgid and the group leader's tgid of a known grandchild."""
    from pybpf.bcc.bpf import BPF
    with BPF(text=PARENT_BY_CONDITIONAL_MACRO) as b:
        child, grand, got = _grandchild_opens(b)
    assert (got[grand].ppid, got[grand].who) == (child, grand)


DADDR_BY_MACRO = r"""
#define GET_DADDR(sk) sk->__sk_common.skc_daddr
#define GET_DPORT(sk) sk->__sk_common.skc_dport
#define FAMILY(sk) ((struct sock *)(sk))->__sk_common.skc_family
struct ev_t { u32 daddr; u16 dport; u16 family; };
BPF_HASH(seen, u32, struct ev_t);
TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    if (args->newstate != 2)                         /* TCP_SYN_SENT */
        return 0;
    struct sock *sk = (struct sock *)args->skaddr;
    struct ev_t e = {};
    e.daddr = GET_DADDR(sk);
    e.dport = ntohs(GET_DPORT(sk));
    e.family = FAMILY(args->skaddr);
    u32 k = bpf_get_current_pid_tgid() >> 32;
    seen.update(&k, &e);
    return 0;
}
"""


@pytest.mark.kernel
def test_socket_members_read_through_macros_are_the_connected_address():
    from pybpf.bcc.bpf import BPF
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        with BPF(text=DADDR_BY_MACRO) as b:
            socket.create_connection(("127.0.0.1", port)).close()
            got = {k.value: v for k, v in b["seen"].items()}
    finally:
        srv.close()
    e = got[os.getpid()]
    assert e.daddr == int.from_bytes(socket.inet_aton("127.0.0.1"), "little")
    assert (e.dport, e.family) == (port, socket.AF_INET)


_NAMES = st.sampled_from(["P", "Q", "R"])
_BODIES = st.lists(st.sampled_from(
    ["a", "b", "P", "Q", "R", "(", ")", ",", "#a", "a##b", "b ## 1", "->x", "__VA_ARGS__",
     ", ## __VA_ARGS__", '"s"', "1", "#__VA_ARGS__"]), max_size=6).map(" ".join)
_PARAMS = st.sampled_from(["", "()", "(a)", "(a, b)", "(a, ...)", "(...)"])
_DEFS = st.lists(st.tuples(_NAMES, _PARAMS, _BODIES).map(
    lambda t: f"#define {t[0]}{t[1]} {t[2]}"), max_size=3, unique_by=lambda s: s.split()[1][0])
_USES = st.lists(st.sampled_from(
    ["P", "Q", "R", "x", "y->z", "P()", "Q(x)", "R(x, y)", "P(Q(x))", 'Q(R(1,2),"q")',
     "R( , )"]), min_size=1, max_size=3).map(" + ".join)


@settings(max_examples=40, deadline=None)
@given(_DEFS, _USES)
def test_an_expanded_use_preprocesses_as_the_macro_did(defs, uses):
    """Differential: clang's preprocessor gives the same tokens for the text before and
    after a use is expanded."""
    import subprocess
    from pybpf.toolchain import find_clang
    text = "\n".join(defs) + "\n@@ " + uses + " @@\n"
    start = text.index("@@")
    new = cmacro.expand_uses(text, [(start, len(text) - 1)])
    if new is None:
        return

    def cpp(src: str):
        p = subprocess.run([find_clang(), "-E", "-P", "-x", "c", "-"], input=src.encode(),
                           capture_output=True)
        return p.returncode, [t.text for t in cmacro.tokens(p.stdout.decode())
                              if t.kind != "nl"]
    before = cpp(text)
    if before[0] == 0:
        assert cpp(new) == before
