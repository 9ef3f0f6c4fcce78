"""uprobes/uretprobes against the running kernel: a gcc-built target, libc, pid filters,
uprobe_multi; plus ELF symbol resolution (pure)."""

from __future__ import annotations

import ctypes
import os
import subprocess

import pytest

from pybpf import errors
from pybpf._sys.uapi import AttachType, ProgType
from pybpf.features import Features
from pybpf.links import libpath, symbols, uprobe
from tests.data.linkprogs import no_leaked_fds  # noqa: F401  (autouse)
from tests.data.linkprogs import ArrayMap, build_target, counter_prog

N = 37


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> str:
    return build_target(str(tmp_path_factory.mktemp("uprobe")))


@pytest.fixture(scope="module")
def target_nopie(tmp_path_factory) -> str:
    return build_target(str(tmp_path_factory.mktemp("uprobe_nopie")), pie=False)


def _nm_offset(path: str, name: str) -> int:
    """The symbol's file offset as binutils sees it (readelf symbol + program headers)."""
    out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    vaddr = next(int(ln.split()[0], 16) for ln in out.splitlines() if ln.endswith(" " + name))
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                         check=True).stdout
    for ln in out.splitlines():
        f = ln.split()
        if f and f[0] == "LOAD":
            off, va, memsz = int(f[1], 16), int(f[2], 16), int(f[5], 16)
            if va <= vaddr < va + memsz:
                return vaddr - va + off
    raise AssertionError(f"{name} not in a PT_LOAD segment")


def _run(path: str, n: int = N, cpu: int | None = None) -> None:
    argv = [path, str(n)]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    subprocess.run(argv, check=True, capture_output=True)


# ---- pure: symbol resolution ----------------------------------------------------------

def test_symbol_offset_matches_binutils_pie_and_exec(target, target_nopie):
    for path in (target, target_nopie):
        for name in ("pt_target_func", "pt_other_func", "main"):
            assert symbols.symbol_offset(path, name) == _nm_offset(path, name), (path, name)


def test_missing_symbol_names_symbol_and_file(target):
    with pytest.raises(errors.NotFoundError) as ei:
        symbols.symbol_offset(target, "pt_no_such_function")
    assert "pt_no_such_function" in str(ei.value) and target in str(ei.value)


def test_find_library_by_short_and_full_name():
    libc = symbols.find_library("c")
    assert os.path.basename(libc).startswith("libc.so")
    assert os.path.realpath(symbols.find_library("libc.so.6")) == os.path.realpath(libc)
    assert os.path.realpath(uprobe.resolve("c", "getpgrp")[0]) == os.path.realpath(libc)
    with pytest.raises(errors.NotFoundError):
        symbols.find_library("pybpf_no_such_lib")


def test_find_library_reads_the_loader_cache_once(monkeypatch):
    """Several probes on one library read ld.so.cache once per process (it is re-read
    when the cache file changes), and only matching names are decoded."""
    first = symbols.find_library("c")
    reads = []
    real = libpath._ld_so_cache
    monkeypatch.setattr(libpath, "_ld_so_cache", lambda *a, **k: reads.append(k) or real(*a, **k))
    assert symbols.find_library("c") == first and reads == []
    names = [n for n, _ in real(prefixes=("libc.so",))]
    assert names and all(n.startswith("libc.so") for n in names)


def test_ifunc_resolves_to_the_picked_implementation_or_is_refused(tmp_path):
    libc = symbols.find_library("c")
    syms = symbols.elf_symbols(libc)
    ifuncs = [s for s in syms.values() if s.type == symbols.STT_GNU_IFUNC]
    if not ifuncs:
        pytest.skip("this libc has no IFUNC symbols")
    strlen = syms["strlen"]
    assert strlen.type == symbols.STT_GNU_IFUNC
    # libc is mapped here, so the dynamic linker's choice is known: probe that function
    off = symbols.symbol_offset(libc, "strlen")
    assert off != strlen.offset     # (stripped libc: the implementation has no symbol)
    # a copy nobody mapped: refused with advice, and no foreign code was run to find out
    copy = tmp_path / "libc-copy.so"
    copy.write_bytes(open(libc, "rb").read())
    with pytest.raises(errors.AttachError, match="IFUNC"):
        symbols.symbol_offset(str(copy), "strlen")


def test_not_an_elf_file(tmp_path):
    p = tmp_path / "junk"
    p.write_bytes(b"not an elf at all" * 10)
    with pytest.raises(errors.ELFError):
        symbols.elf_symbols(str(p))


# ---- kernel ----------------------------------------------------------------------------

@pytest.mark.kernel
def test_uprobe_counts_every_call(target):
    with ArrayMap("pt_up_cnt") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                  "pt_uprobe") as prog:
        with uprobe.attach(prog, target, "pt_target_func") as link:
            assert link.kind == "uprobe"
            _run(target)
            assert m.read() == N
        _run(target)                       # detached: no more counts
        assert m.read() == N


@pytest.mark.kernel
def test_uprobe_system_wide_fires_on_every_cpu(target):
    # a system-wide probe event is opened on CPU 0 only; hits on other CPUs count too
    cpus = sorted(os.sched_getaffinity(0))
    with ArrayMap("pt_up_cpu") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                  "pt_uprobe_cpu") as prog:
        with uprobe.attach(prog, target, "pt_target_func"):
            for cpu in cpus:
                _run(target, cpu=cpu)
            assert m.read() == N * len(cpus)


@pytest.mark.kernel
def test_uretprobe_and_offset_form(target):
    off = symbols.symbol_offset(target, "pt_other_func")
    with ArrayMap("pt_uret_cnt") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                    "pt_uretprobe") as prog:
        with uprobe.attach(prog, target, offset=off, retprobe=True) as link:
            assert link.kind == "uretprobe"
            _run(target)
            assert m.read() == N // 2      # pt_other_func runs for odd i only


@pytest.mark.kernel
def test_uprobe_pid_filter_counts_only_that_process(target):
    procs = [subprocess.Popen([target, str(N), "wait"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        with ArrayMap("pt_up_pid") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                      "pt_uprobe_pid") as prog:
            with uprobe.attach(prog, target, "pt_target_func", pid=procs[0].pid) as link:
                assert f"pid {procs[0].pid}" in link.target
                for p in procs:
                    p.communicate("go\n", timeout=30)
                    assert p.returncode == 0
                assert m.read() == N
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.kernel
def test_uprobe_on_libc_function_by_library_name():
    # getpgrp(): a plain (non-IFUNC) libc function nothing else here calls in a loop;
    # the program counts only this process, so other processes calling it do not matter
    libc = ctypes.CDLL(symbols.find_library("c"))
    with ArrayMap("pt_up_libc") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                   "pt_uprobe_libc", tgid=os.getpid()) as prog:
        with uprobe.attach(prog, "c", "getpgrp", pid=os.getpid()):
            for _ in range(N):
                libc.getpgrp()
            assert m.read() == N


@pytest.mark.kernel
def test_uprobe_missing_file_and_symbol(target):
    with ArrayMap("pt_up_miss") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                   "pt_uprobe_miss") as prog:
        with pytest.raises(errors.NotFoundError, match="pt_nope"):
            uprobe.attach(prog, target, "pt_nope")
        with pytest.raises(errors.NotFoundError):
            uprobe.attach(prog, "/nonexistent/pt_binary", "main")


@pytest.mark.kernel
def test_uprobe_multi_glob(target):
    if not Features().has_uprobe_multi():
        with ArrayMap("pt_um_cnt") as m, counter_prog(
                ProgType.KPROBE, m.fd.fileno(), "pt_uprobe_multi",
                expected_attach_type=AttachType.TRACE_UPROBE_MULTI) as prog:
            with pytest.raises(errors.NotSupportedError, match="uprobe.multi"):
                uprobe.attach_multi(prog, target, "pt_*_func")
        return
    with ArrayMap("pt_um_cnt") as m, counter_prog(
            ProgType.KPROBE, m.fd.fileno(), "pt_uprobe_multi",
            expected_attach_type=AttachType.TRACE_UPROBE_MULTI) as prog:
        with uprobe.attach_multi(prog, target, "pt_*_func") as link:
            assert link.kind == "uprobe_multi" and "2 probes" in link.target
            _run(target)
            assert m.read() == N + N // 2
        with uprobe.attach_multi(prog, target, ["pt_other_func"], retprobe=True):
            _run(target)
            assert m.read() == N + N // 2 + N // 2
        with pytest.raises(errors.NotFoundError):
            uprobe.attach_multi(prog, target, "pt_nothing_*")


@pytest.mark.kernel
def test_legacy_tracefs_uprobe_is_removed_on_close(target):
    # the path for kernels without the uprobe PMU: a tracefs uprobe_events entry
    from pybpf import tracefs
    events = os.path.join(tracefs.root(), "uprobe_events")
    off = symbols.symbol_offset(target, "pt_target_func")
    with ArrayMap("pt_up_legacy") as m, counter_prog(ProgType.KPROBE, m.fd.fileno(),
                                                     "pt_uprobe_leg") as prog:
        link = uprobe._attach_legacy(prog, target, off, False, -1, 0, 0, "uprobe",
                                     f"{target}:{off:#x}", "pt_target_func")
        with link:
            with open(events) as f:
                assert f"pybpf/pt_target_func_{os.getpid()}_" in f.read()
            _run(target)
            assert m.read() == N
        assert link.closed
        with open(events) as f:
            assert f"pybpf/pt_target_func_{os.getpid()}_" not in f.read()
