"""trace and argdist against known effects: a test binary's function called N times with
known arguments (uprobes and uretprobes), openat of a marker file (a tracepoint),
collections asked of CPython (its gc__start USDT probe); and their
specifier parsers (pure, fuzzed)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import pytest
from hypothesis import given, settings, strategies as st

from pybpf.tools._probespec import SpecError, parse_argdist, parse_trace, python_format
from tests.test_bcc_kmacros import tree  # noqa: F401 (the kernel header tree fixture)
from tests.toolrun import ToolRun, kprobes_missing_here, run_tool

PY311 = "/usr/bin/python3.11"


def _args_child(n: int):
    """tests/data/tool_args.c, waiting for a line before its n calls."""
    from tests.cbuild import build
    exe = build("tool_args")
    return exe, subprocess.Popen([exe, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def _opener(prefix: str, n: int):
    """A marker file, and a Python child that opens it n times once it reads a line."""
    f = tempfile.NamedTemporaryFile(prefix=prefix, delete=False)
    f.close()
    code = f"import sys\nsys.stdin.readline()\nfor _ in range({n}): open({f.name!r}).close()\n"
    return f.name, subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)


def _go(child) -> None:
    child.stdin.write(b"go\n")
    child.stdin.close()
    child.wait(timeout=20)


# -- parsers (no kernel) ---------------------------------------------------------------

def test_trace_specifier_parts():
    p = parse_trace('p:c:write (arg1 == 1 && (arg3 > 2)) "writing %d bytes, %s", arg3, '
                    'f(arg2, 1)')
    assert (p.kind, p.library, p.function) == ("p", "c", "write")
    assert p.filter == "arg1 == 1 && (arg3 > 2)"
    assert p.convs == ["d", "s"] and p.values == ["arg3", "f(arg2, 1)"]
    p = parse_trace("r::do_sys_open")
    assert (p.kind, p.library, p.function, p.fmt) == ("r", "", "do_sys_open", "")
    p = parse_trace('t:syscalls:sys_enter_openat "%s", args->filename')
    assert (p.kind, p.category, p.function, p.display) == ("t", "syscalls",
                                                           "sys_enter_openat",
                                                           "sys_enter_openat")
    p = parse_trace("u:/usr/bin/python3.11:python:function__entry (arg3 > 1)")
    assert (p.library, p.provider, p.function) == ("/usr/bin/python3.11", "python",
                                                   "function__entry")
    p = parse_trace('p::SyS_nanosleep(struct timespec *ts) "%lld", ts')
    assert p.params == [("struct timespec *", "ts")]
    p = parse_trace("kfree_skb+0x12")
    assert (p.function, p.offset) == ("kfree_skb", 0x12)
    assert python_format("%d %llu %lx %s %K 100%%") == "%d %d %x %s %s 100%%"


@pytest.mark.parametrize("spec,why", [
    ('c:malloc "%d %d", arg1', "2 conversions for 1 values"),
    ("x:c:malloc", "probe type must be"),
    ('c:malloc (arg1 == 1 "x"', "unmatched"),
    ('c:malloc "unterminated', "unterminated"),
    ("t:sched:", "a tracepoint is"),
    ("t:syscalls:sys_enter_openat(int x)", "take no signature"),
    ("", "empty")])
def test_trace_bad_specifiers(spec, why):
    with pytest.raises(SpecError, match=why):
        parse_trace(spec)


def test_argdist_specifier_parts():
    p = parse_argdist("p:c:write(int fd, char *buf, size_t len):char*,size_t:buf,len:fd==1"
                      "#stdout writes", hist=False)
    assert p.params == [("int", "fd"), ("char *", "buf"), ("size_t", "len")]
    assert (p.types, p.exprs, p.filter, p.label) == (["char*", "size_t"], ["buf", "len"],
                                                     "fd==1", "stdout writes")
    p = parse_argdist("r:c:read()", hist=True)
    assert (p.default_expr, p.types, p.exprs) == (True, ["int"], ["$retval"])
    p = parse_argdist("t:block:block_rq_complete():u32:args->nr_sector", hist=True)
    assert (p.kind, p.category, p.function) == ("t", "block", "block_rq_complete")
    for spec, why in (("p:c:malloc", "invalid format"), ("p:c:f():int,int:a", "mismatched"),
                      ("p:c:f()", "histograms need"), ("p:c:f():int,int:a,b", "only have one"),
                      ("p:c", "at least")):
        with pytest.raises(SpecError, match=why):
            parse_argdist(spec, hist=True)


def test_expressions_become_c():
    from pybpf.tools import _probegen
    p = parse_trace('r:c:malloc (retval > 0) "%d", retval')
    assert _probegen.rewrite(p, "retval > 0 && $pid != 1 && $retval") == \
        "__retval > 0 && ((__u32)bpf_get_current_pid_tgid()) != 1 && __retval"
    assert "__u64 __retval = PT_REGS_RC(ctx);" in _probegen.preamble(p, [])[1]
    assert "__retval" not in _probegen.preamble(p, [], entry=True)[1]
    p = parse_argdist("r:c:f(int a, char *b):int:$entry(a):$latency > 1000", hist=True)
    assert _probegen.needs_entry(p)
    assert _probegen.rewrite(p, "$entry(b)") == "((char *)__earg2)"
    assert _probegen.entry_values(p) == "\t__u64 __earg1 = __entry->args[0];\n" \
        "\t__u64 __earg2 = __entry->args[1];\n"
    assert _probegen.rewrite(p, "$latency") == "(bpf_ktime_get_ns() - __entry->ts)"
    with pytest.raises(SpecError, match="no such parameter"):
        _probegen.rewrite(p, "$entry(c)")
    with pytest.raises(SpecError, match="unknown alias"):
        _probegen.rewrite(p, "$nosuch")
    u = parse_trace('u:/bin/x:probe (arg3 > 1) "%s", arg1@user')
    ctx, decls = _probegen.preamble(u, [u.filter] + u.values)
    assert ctx == "struct pt_regs *ctx" and "bpf_usdt_arg(ctx, 0, &__arg1)" in decls
    assert "bpf_usdt_arg(ctx, 2, &__arg3)" in decls and "__arg2" not in decls
    assert _probegen.rewrite(u, "arg1@user") == "__arg1"
    k = parse_trace("p::__x64_sys_openat(int dfd, const char *name)")
    ctx, decls = _probegen.preamble(k, [])
    assert "PT_REGS_PARM2_CORE_SYSCALL" in decls and "const char * name = " in decls
    t = parse_trace('t:sched:sched_switch "%s", args->next_comm')
    assert _probegen.preamble(t, t.values) == (
        "void *ctx", "\tstruct tracepoint__sched__sched_switch *args = ctx;\n")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_specifier_parsers_fail_only_with_one_line(text):
    for parse in (parse_trace, lambda t: parse_argdist(t, True),
                  lambda t: parse_argdist(t, False)):
        try:
            parse(text)
        except SpecError as e:
            assert "\n" not in str(e).strip("\n") or "\n" in text


def test_bad_specifier_is_one_line():
    for tool, args, what in (("trace", ['c:malloc "%d"'], "1 conversions for 0 values"),
                             ("argdist", ["-C", "p:c:malloc"], "invalid format"),
                             ("trace", ["c:malloc (nosuchvar > 1)"],
                              "probe 'c:malloc (nosuchvar > 1)': 'nosuchvar' is not "
                              "declared")):
        r = run_tool(tool, *args)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith(f"pybpf {tool}: error: ") and "Traceback" not in r.stderr
        assert what in r.stderr, r.stderr


# -- the kernel ------------------------------------------------------------------------

@pytest.mark.kernel
def test_trace_uprobe_and_uretprobe_arguments_and_results():
    exe, c = _args_child(10)
    t = ToolRun("trace", "--json", "-p", str(c.pid),
                f'p:{exe}:args_marker (arg1 % 2 == 0) "i=%ld name=%s", arg1, arg2',
                f'r:{exe}:args_marker (retval > 20) "ret %d", retval',
                ready="Tracing 2 probes")
    _go(c)
    t.wait_for('"ret 27"', timeout=20)
    t.stop()
    recs = t.json()
    names = ["alpha", "beta", "gamma"]
    assert [r["msg"] for r in recs if r["probe"] == 0] == \
        [f"i={i} name={names[i % 3]}" for i in range(0, 10, 2)], recs
    assert [r["values"] for r in recs if r["probe"] == 1] == [[21], [24], [27]], recs
    assert {(r["pid"], r["func"]) for r in recs} == {(c.pid, "args_marker")}


@pytest.mark.kernel
def test_trace_user_stack_of_each_call():
    from tests.cbuild import build
    sleeper = build("tool_sleep")       # main -> sleep_marker(1 ms), 3 times, then lingers
    c = subprocess.Popen(["sh", "-c", f"read x; exec {sleeper} 3 1 30"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        t = ToolRun("trace", "--json", "-U", "-p", str(c.pid),
                    f'p:{sleeper}:sleep_marker "ms=%ld", arg1', ready="Tracing 1 probes")
        c.stdin.write(b"go\n")
        c.stdin.flush()
        assert c.stdout.readline() == b"done\n"     # its 3 calls made; it lingers
        t.stop(settle=0)
    finally:
        c.kill()
        c.wait()
    recs = t.json()
    assert [r["msg"] for r in recs] == ["ms=1"] * 3, recs
    assert all([f.split("+")[0] for f in r["user_stack"][:2]] == ["sleep_marker", "main"]
               and "kernel_stack" not in r for r in recs), recs


@pytest.mark.kernel
def test_trace_tracepoint_marker_file_and_text_layout():
    marker, c = _opener("pybpf-trace-marker-", 4)
    try:
        # read-only opens of the marker: the child also opens its own modules
        t = ToolRun("trace", "-p", str(c.pid),
                    f't:syscalls:sys_enter_openat ((args->flags & 3) == 0 && '
                    f'STRCMP("{marker}", args->filename)) "%s flags %x", args->filename, '
                    'args->flags', ready="COMM")
        _go(c)
        t.wait_for(marker, timeout=20)
        lines = t.stop()
    finally:
        os.unlink(marker)
    assert lines[0].split() == ["PID", "TID", "COMM", "FUNC", "-"]
    # O_RDONLY | O_CLOEXEC
    assert [ln.split()[:2] + ln.split()[3:] for ln in lines[1:]] == \
        [[str(c.pid), str(c.pid), "sys_enter_openat", marker, "flags", "80000"]] * 4, lines


@pytest.mark.kernel
def test_argdist_counts_and_histogram_of_a_user_function():
    exe, c = _args_child(10)
    t = ToolRun("argdist", "--json", "-i", "60", "-p", str(c.pid),
                "-C", f"p:{exe}:args_marker(long i, const char *name):char*:name",
                "-C", f"r:{exe}:args_marker():long:$retval:$retval > 20",
                "-H", f"p:{exe}:args_marker(long i):long:i#index",
                ready="Tracing 3 probes")
    _go(c)
    t.stop()
    (rec,) = t.json()
    names, rets, hist = rec["probes"]
    assert {x["values"]["name"]: x["count"] for x in names["counts"]} == \
        {"alpha": 4, "beta": 3, "gamma": 3}, rec
    assert sorted(x["values"]["$retval"] for x in rets["counts"]) == [21, 24, 27]
    assert hist["unit"] == "index" and hist["total"] == 10
    # 0 and 1 share the first bucket, then 2-3, 4-7, 8-9
    assert [(b["low"], b["high"], b["count"]) for b in hist["buckets"]] == \
        [(0, 1, 2), (2, 3, 2), (4, 7, 4), (8, 15, 2)], hist


@pytest.mark.kernel
def test_argdist_tracepoint_field_counts_the_marker_opens():
    marker, c = _opener("pybpf-argdist-marker-", 7)
    try:
        t = ToolRun("argdist", "-i", "60", "-p", str(c.pid),
                    "-C", "t:syscalls:sys_enter_openat():char*:args->filename",
                    ready="Tracing 1 probes")
        _go(c)
        lines = t.stop()
    finally:
        os.unlink(marker)
    assert "t:syscalls:sys_enter_openat():char*:args->filename" in lines
    assert ["7", f"args->filename = {marker}"] == \
        [ln.split(None, 1) for ln in lines if marker in ln][0], lines


@pytest.mark.kernel
def test_usdt_gc_start_with_trace_and_argdist():
    # collections only where asked: 5 of generation 2, 3 of generation 1 (none automatic,
    # none at exit: the interpreter's finalization collects too)
    code = ("import gc, os, sys\ngc.disable()\nsys.stdin.readline()\n"
            "for g in (2, 2, 1, 2, 1, 2, 1, 2):\n    gc.collect(g)\nos._exit(0)\n")
    c = subprocess.Popen([PY311, "-c", code], stdin=subprocess.PIPE)
    a = ToolRun("argdist", "--json", "-i", "60", "-p", str(c.pid),
                "-C", f"u:{PY311}:gc__start():int:arg1", ready="Tracing 1 probes")
    t = ToolRun("trace", "--json", "-p", str(c.pid),
                f'u:{PY311}:python:gc__start (arg1 == 1) "gen %d", arg1',
                f'u:{PY311}:gc__done "done"', ready="Tracing 2 probes")
    _go(c)
    t.stop()
    a.stop()
    got = [(r["func"], r["msg"]) for r in t.json()]
    assert got.count(("python:gc__start", "gen 1")) == 3 and len(got) == 3 + 8, got
    (rec,) = a.json()
    assert {x["values"]["arg1"]: x["count"] for x in rec["probes"][0]["counts"]} == \
        {2: 5, 1: 3}, rec


@pytest.mark.needs_hook("kprobe")
def test_trace_kprobe_in_the_guest_names_it_missing_here():
    if kprobes_missing_here("trace", "do_sys_openat2"):
        return
    marker, c = _opener("pybpf-kprobe-marker-", 3)
    try:
        t = ToolRun("trace", "--json", "-p", str(c.pid),
                    'do_sys_openat2 "%s", arg2@user', ready="Tracing 1 probes",
                    timeout=600)             # clang's compile, emulated (~60 s and more)
        _go(c)
        t.wait_for(marker, timeout=60)
        t.stop()
    finally:
        os.unlink(marker)
    assert [r["msg"] for r in t.json()].count(marker) == 3


# -- reads through pointers (bcc's automatic probe reads) --------------------------------

def _grand_opener(prefix: str, n: int):
    """A marker file, and a shell (the child) whose own child, a Python process, opens
    the marker n times once the shell reads a line: the opener's real parent is the
    shell."""
    f = tempfile.NamedTemporaryFile(prefix=prefix, delete=False)
    f.close()
    code = f"for _ in range({n}): open({f.name!r}).close()"
    return f.name, subprocess.Popen(["sh", "-c", f'read x; {sys.executable} -c "{code}"; :'],
                                    stdin=subprocess.PIPE)


@pytest.mark.kernel
def test_trace_reads_through_kernel_pointers_on_a_tracepoint():
    """``->`` through the current task (a kernel pointer) in values and the predicate,
    without BPF_CORE_READ: the opener's real parent is the shell that started it."""
    marker, c = _grand_opener("pybpf-trace-kread-", 3)
    try:
        t = ToolRun("trace", "--json",
                    f't:syscalls:sys_enter_openat (STRCMP("{marker}", args->filename) && '
                    f'$task->real_parent->tgid == {c.pid}) "ppid %d parent %d me %d", '
                    '((struct task_struct *)bpf_get_current_task())->real_parent->tgid, '
                    '$task->real_parent->pid, $task->group_leader->tgid',
                    ready="Tracing 1 probes")
        _go(c)
        t.wait_for("ppid", timeout=20)
        t.stop(settle=0.5)
    finally:
        os.unlink(marker)
    recs = t.json()
    assert len(recs) == 3 and all(r["pid"] != c.pid for r in recs), recs
    assert [r["msg"] for r in recs] == [f"ppid {c.pid} parent {c.pid} me {recs[0]['pid']}"] * 3


@pytest.mark.kernel
def test_trace_and_argdist_read_through_user_pointers_of_a_uprobe():
    """``name[0]`` through a uprobe's argument reads user memory; argdist counts the
    parent's tgid read through the task on a tracepoint."""
    exe, c = _args_child(6)
    t = ToolRun("trace", "--json", "-p", str(c.pid),
                f'p:{exe}:args_marker(long i, const char *name) (name[1] != \'l\') '
                '"%c%c", name[0], *(name + 1)', ready="Tracing 1 probes")
    _go(c)
    t.wait_for('"ga"', timeout=20)
    t.stop(settle=0.5)
    assert [r["msg"] for r in t.json()] == ["be", "ga", "be", "ga"], t.json()
    marker, c = _grand_opener("pybpf-argdist-kread-", 5)
    try:
        a = ToolRun("argdist", "--json", "-i", "60",
                    "-C", f't:syscalls:sys_enter_openat():u32:$task->real_parent->tgid:'
                          f'STRCMP("{marker}", args->filename)',
                    "-C", f"p:{exe}:args_marker(long i, const char *name):char:name[0]",
                    "-C", f"r:{exe}:args_marker(long i, const char *name):char:"
                          "$entry(name)[1]",
                    ready="Tracing 3 probes")
        _go(c)
        _args_go(exe, 7)
        a.stop(settle=0.5)
    finally:
        os.unlink(marker)
    (rec,) = a.json()
    parents, letters, seconds = rec["probes"]
    assert [(x["values"], x["count"]) for x in parents["counts"]] == \
        [({"$task->real_parent->tgid": c.pid}, 5)], rec
    assert {x["values"]["name[0]"]: x["count"] for x in letters["counts"]} == \
        {ord("a"): 3, ord("b"): 2, ord("g"): 2}, rec
    # the entry's saved pointer, read at the return: a user pointer still
    assert {x["values"]["$entry(name)[1]"]: x["count"] for x in seconds["counts"]} == \
        {ord("l"): 3, ord("e"): 2, ord("a"): 2}, rec


def _args_go(exe: str, n: int) -> None:
    c = subprocess.Popen([exe, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    _go(c)


@pytest.mark.needs_hook("kprobe")
def test_trace_reads_a_kernel_struct_through_a_kprobe_argument_in_the_guest():
    """``how->flags`` of do_sys_openat2's ``struct open_how *`` (kernel memory): Python's
    open() for reading passes O_RDONLY | O_CLOEXEC, and the kernel's build_open_how adds
    O_LARGEFILE (0x8000) on 64-bit."""
    if kprobes_missing_here("trace", "do_sys_openat2"):
        return
    marker, c = _opener("pybpf-kprobe-how-", 3)
    try:
        t = ToolRun("trace", "--json", "-p", str(c.pid),
                    "p::do_sys_openat2(int dfd, const char *name, struct open_how *how) "
                    f'(STRCMP("{marker}", name)) "flags %llx mode %lld", how->flags, how->mode',
                    ready="Tracing 1 probes", timeout=600)     # libclang's parse, emulated
        _go(c)
        t.wait_for("flags", timeout=60)
        t.stop(settle=1)
    finally:
        os.unlink(marker)
    assert [r["msg"] for r in t.json()] == ["flags 88000 mode 0"] * 3, t.json()


# -- bcc's options: -B, -s, -a, -b, -I ---------------------------------------------------

@pytest.mark.kernel
def test_trace_binary_strcmp_and_build_id_stacks_of_a_process_gone():
    """-B compares bytes ("bet": beta's calls, i = 1 and 4 of 7); -s names the user frames
    of a process that has exited by their build-id in the given file; -a prints each
    frame's file offset, which the file's symbols confirm."""
    from pybpf.syms.elfsyms import ElfSymbols
    exe, c = _args_child(7)
    t = ToolRun("trace", "--json", "-B", "-U", "-a", "-s", exe,
                f'p:{exe}:args_marker (STRCMP("{{0x62, 0x65, 0x74}}", arg2)) "i=%ld", arg1',
                ready="Tracing 1 probes")
    _go(c)                          # the child has exited when _go returns
    t.wait_for('"i=4"', timeout=20)
    t.stop(settle=0.5)
    recs = t.json()
    assert [r["msg"] for r in recs] == ["i=1", "i=4"], recs
    elf = ElfSymbols(exe)
    name = os.path.basename(exe)
    for r in recs:
        top = [f.split() for f in r["user_stack"][:2]]
        assert [(f[1].split("+")[0], f[2]) for f in top] == \
            [("args_marker", f"[{name}]"), ("main", f"[{name}]")], r
        for off, sym, _ in top:
            fn, at = elf.lookup(elf.offset_to_vaddr(int(off, 16)))
            assert sym == f"{fn}+0x{at:x}", r
    # a file without a build-id is refused in one line
    r = run_tool("trace", "-U", "-s", "/dev/null", "t:sched:sched_process_exec")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "/dev/null" in r.stderr


@pytest.mark.kernel
def test_trace_addresses_in_the_user_stack_of_a_live_process():
    """-a: each frame's address lies in the mapping of the binary that names it."""
    from pybpf.syms.elfsyms import ElfSymbols
    from tests.cbuild import build
    sleeper = build("tool_sleep")
    c = subprocess.Popen(["sh", "-c", f"read x; exec {sleeper} 2 1 30"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        t = ToolRun("trace", "--json", "-U", "-a", "-p", str(c.pid),
                    f'p:{sleeper}:sleep_marker "ms=%ld", arg1', ready="Tracing 1 probes")
        c.stdin.write(b"go\n")
        c.stdin.flush()
        assert c.stdout.readline() == b"done\n"     # its 2 calls made; it lingers
        t.stop(settle=0)
        with open(f"/proc/{c.pid}/maps") as f:
            maps = [ln.split() for ln in f if ln.rstrip().endswith(sleeper)]
    finally:
        c.kill()
        c.wait()
    elf = ElfSymbols(sleeper)
    recs = t.json()
    assert len(recs) == 2, recs
    for r in recs:
        for frame in r["user_stack"][:2]:
            addr, sym = frame.split()[:2]
            a = int(addr, 16)
            (lo, hi), off = next((map(lambda x: int(x, 16), m[0].split("-")), int(m[2], 16))
                                 for m in maps if int(m[0].split("-")[0], 16) <= a
                                 < int(m[0].split("-")[1], 16))
            fn, at = elf.lookup(elf.offset_to_vaddr(a - lo + off))
            assert sym == f"{fn}+0x{at:x}", r
        assert [f.split()[1].split("+")[0] for f in r["user_stack"][:2]] == \
            ["sleep_marker", "main"], r


def _ringbuf_bytes(pid: int) -> set[int]:
    """max_entries of the ring buffer maps process pid holds (an fd or more each)."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(ln.split(":", 1) for ln in f if ":" in ln)
        except OSError:
            continue
        if info.get("map_type", "").strip() == "27":        # BPF_MAP_TYPE_RINGBUF
            out.add(int(info["max_entries"]))
    return out


@pytest.mark.kernel
def test_trace_buffer_pages_and_an_included_header(tmp_path):
    """-b 8: a ring buffer of 8 pages per CPU (a power of two); -I ./header: its macro in
    the predicate (only the call with i == 3)."""
    hdr = tmp_path / "marker.h"
    hdr.write_text("#define MARKER_I 3\nstatic inline long twice(long x) { return 2 * x; }\n")
    exe, c = _args_child(6)
    t = ToolRun("trace", "--json", "-b", "8", "-I", str(hdr), "-p", str(c.pid),
                f'p:{exe}:args_marker (arg1 == MARKER_I) "i=%ld twice=%ld", arg1, '
                'twice(arg1)', ready="Tracing 1 probes")
    want = 8 * os.sysconf("SC_PAGE_SIZE") * os.cpu_count()
    assert _ringbuf_bytes(t.p.pid) == {1 << (want - 1).bit_length()}
    _go(c)
    t.wait_for("i=3", timeout=20)
    t.stop(settle=0.3)
    assert [r["msg"] for r in t.json()] == ["i=3 twice=6"]
    exe, c = _args_child(5)
    a = ToolRun("argdist", "--json", "-i", "60", "-I", str(hdr), "-p", str(c.pid),
                "-C", f"p:{exe}:args_marker(long i):long:twice(i):i < MARKER_I",
                ready="Tracing 1 probes")
    _go(c)
    a.stop(settle=0.3)
    (rec,) = a.json()
    assert sorted(x["values"]["twice(i)"] for x in rec["probes"][0]["counts"]) == [0, 2, 4]
    t = ToolRun("trace", "t:sched:sched_process_exec", ready="PID")
    assert _ringbuf_bytes(t.p.pid) == {1 << 20}
    t.stop(settle=0)
    r = run_tool("trace", "-I", str(tmp_path / "none.h"), "t:sched:sched_process_exec")
    assert r.returncode == 1 and "none.h: no such header" in r.stderr


@pytest.mark.kernel
def test_trace_constants_of_the_kernel_headers(tree):
    """O_DIRECTORY, O_NOFOLLOW and a function-like macro built on NICE_WIDTH, defined
    by a kernel header tree (tests/test_bcc_kmacros.py's, named by BCC_KERNEL_SOURCE):
    three opens of a directory with both flags, one without O_NOFOLLOW."""
    code = ("import os, sys\nsys.stdin.readline()\nfor f in (os.O_NOFOLLOW,) * 3 + (0,):\n"
            "    os.close(os.open('/', os.O_RDONLY | os.O_DIRECTORY | f))\n")
    c = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    t = ToolRun("trace", "--json", "-I", "linux/fcntl.h", "-p", str(c.pid),
                "t:syscalls:sys_enter_openat ((args->flags & (O_DIRECTORY | O_NOFOLLOW)) == "
                '(O_DIRECTORY | O_NOFOLLOW)) "%s scale %d", args->filename, PT_SCALE(2)',
                ready="Tracing 1 probes")
    _go(c)
    t.wait_for("scale", timeout=20)
    t.stop(settle=0.5)
    assert [r["msg"] for r in t.json()] == ["/ scale 80"] * 3, t.json()


@pytest.mark.kernel
def test_argdist_intervals_lose_no_count():
    """-i 1 while a child writes 200 sizes without a pause for 2.5 s: the intervals'
    counts add up to every write but the few a BPF program was adding to at the very
    moment its entry was taken out (each entry is read and deleted at once; reading all,
    then deleting key by key, lost what came in meanwhile: 293 of dd's 300 writes)."""
    from tests.workload import Child
    c = Child("import os, time\nfd = os.open('/dev/null', os.O_WRONLY)\nn = 0\n"
              "bufs = [b'x' * k for k in range(1, 201)]\n"
              "end = time.monotonic() + 2.5\n"
              "while time.monotonic() < end:\n"
              "    for b in bufs: os.write(fd, b)\n"
              "    n += 200\n"
              "print(n)\n")
    t = ToolRun("argdist", "--json", "-i", "1", "-p", str(c.pid),
                "-C", "t:syscalls:sys_enter_write():u64:args->count",
                "-H", "t:syscalls:sys_enter_write():u64:args->count",
                ready="Tracing 2 probes")
    n = int(c.go())
    time.sleep(0.3)
    t.stop()
    recs = t.json()
    assert len(recs) >= 2, recs            # the writes spanned intervals
    counted = sum(x["count"] for r in recs for x in r["probes"][0]["counts"]
                  if 1 <= x["values"]["args->count"] <= 200)
    hist = sum(b["count"] for r in recs for b in r["probes"][1]["buckets"] if b["high"] <= 255)
    # the child's print of n: a write or two of a few bytes, in range
    for got in (counted, hist):
        assert n - 3 * len(recs) <= got <= n + 3, (n, counted, hist, len(recs))
