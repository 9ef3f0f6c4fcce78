"""The cut vmlinux.h of a bcc program's first compile on a kernel (pybpf.bcc.minihdr):
what it declares, that a first run with an empty cache works through it without making
the full header, and that a cut header that misses something falls back to the full one.
(tests/test_bcc_corpus.py checks bcc's tools build the same code with either header.)"""

from __future__ import annotations

import os

import pytest

from pybpf.bcc import minihdr, prelude, rewrite
from pybpf.btf.kernel import load_vmlinux

INC = [os.path.join(os.path.dirname(prelude.__file__), "include")]


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    from pybpf.cache import Cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return Cache.default()


def _headers(root: str) -> list[str]:
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names
            if n == "vmlinux.h" or n.endswith(".pch")]


def test_cut_header_defines_what_the_text_reaches_and_declares_the_rest():
    spec = load_vmlinux()
    text = "int f(struct task_struct *t) { return t->real_parent->tgid + t->pid; }"
    h = minihdr.generate(spec, text, INC)
    assert "\nstruct task_struct {" in h
    # real_parent is named in the text: what it points to is defined (task_struct);
    # mm is not: struct mm_struct is only declared
    assert "\nstruct mm_struct;" in h and "\nstruct mm_struct {" not in h
    assert "typedef int pid_t;" in h or "typedef __kernel_pid_t pid_t;" in h
    h2 = minihdr.generate(spec, text + " int g(struct task_struct *t) { return !!t->mm; }",
                          INC)
    assert "\nstruct mm_struct {" in h2
    # a few per cent of the full header
    assert len(h) < 400_000


def test_cut_header_has_enumerators_the_text_uses():
    spec = load_vmlinux()
    h = minihdr.generate(spec, "int x = BPF_F_CURRENT_CPU + BPF_ANY;", INC)
    assert "BPF_F_CURRENT_CPU" in h and "BPF_ANY" in h


def test_kernel_tags_answer_from_btf():
    tags = minihdr.KernelTags(load_vmlinux())
    assert "task_struct" in tags and "sock" in tags and "nameidata" in tags
    assert "pybpf_no_such_struct" not in tags
    assert "pid_t" not in tags            # a typedef, not a tag


def test_kernel_tags_before_any_vmlinux_h(own_cache):
    # dcsnoop defines its own struct nameidata, which the kernel has too: renamed even on
    # a first compile, without generating vmlinux.h for the tags
    assert "nameidata" in prelude.kernel_tags()
    assert not _headers(own_cache.root)


NAMEIDATA = r"""
struct nameidata { struct path path; int mine; };
BPF_HASH(seen, u32, u32);
TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    struct nameidata nd = {};
    nd.mine = 7;
    u32 k = 0, v = nd.mine;
    seen.update(&k, &v);
    return 0;
}
"""


def test_first_compile_with_own_kernel_struct_uses_cut_header(own_cache):
    rw = rewrite.rewrite(NAMEIDATA, bind=lambda k, t, s, r: rewrite.Binding("kprobe", t, s, r),
                         tp_struct=None)
    assert "struct nameidata" not in rw.source      # renamed
    obj = prelude.compile(rw.source, [], INC, rw=rw)
    assert obj.startswith(b"\x7fELF")
    assert not _headers(own_cache.root)             # neither vmlinux.h nor a PCH made


def test_a_cut_header_that_misses_a_type_falls_back_to_the_full_one(own_cache, monkeypatch):
    text = "int f(struct pt_regs *ctx) { struct task_struct *t = (void *)ctx; " \
           "return t->pid; }\n"
    rw = rewrite.rewrite(text, bind=lambda k, t, s, r: rewrite.Binding("kprobe", t, s, r),
                         tp_struct=None)
    monkeypatch.setattr(minihdr, "generate", lambda *a, **k: "struct task_struct;\n")
    obj = prelude.compile(rw.source, [], INC, rw=rw)
    assert obj.startswith(b"\x7fELF")
    assert any(p.endswith("vmlinux.h") for p in _headers(own_cache.root))


PARENT = r"""
struct ev_t { u32 ppid; };
BPF_HASH(seen, u32, struct ev_t);
TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    char name[24] = {};
    bpf_probe_read_user_str(name, sizeof(name), args->filename);
    if (name[0] != '/' || name[5] != 'm' || name[6] != 'h' || name[7] != 'd') return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct ev_t e = {};
    e.ppid = t->real_parent->tgid;
    u32 k = bpf_get_current_pid_tgid() >> 32;
    seen.update(&k, &e);
    return 0;
}
"""


@pytest.mark.kernel
def test_first_run_with_an_empty_cache_reads_kernel_pointers(own_cache):
    from pybpf.bcc.bpf import BPF
    with BPF(text=PARENT) as b:
        assert not _headers(own_cache.root)
        pid = os.fork()
        if pid == 0:
            try:
                os.open("/tmp/mhd-marker-not-there", os.O_RDONLY)
            except OSError:
                pass
            os._exit(0)
        os.waitpid(pid, 0)
        got = {k.value: v.ppid for k, v in b["seen"].items()}
    assert got.get(pid) == os.getpid()


def test_cut_header_is_kept_for_texts_with_the_same_names(own_cache, monkeypatch):
    spec = load_vmlinux()
    a = minihdr.generate(spec, "int f(struct task_struct *t) { return t->pid == 12; }", INC,
                         cache=own_cache)

    def no_roots(*args):
        raise AssertionError("generated again")
    monkeypatch.setattr(minihdr, "roots", no_roots)
    # a tool's substituted filter changes numbers, not names: the same header
    assert minihdr.generate(spec, "int f(struct task_struct *t) { return t->pid == 99; }",
                            INC, cache=own_cache) == a
    with pytest.raises(AssertionError):
        minihdr.generate(spec, "int f(struct task_struct *t) { return t->tgid; }", INC,
                         cache=own_cache)
