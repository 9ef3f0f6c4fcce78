"""pybpf.syms: kernel addresses (kallsyms index, BPF programs) and live processes' addresses
(plain, inlined, deleted binaries, other mount namespaces) resolved as the system says."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest

from pybpf.syms import Symbol, Symbolizer, frames
from pybpf.syms.kernel import KernelSymbols

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_C = os.path.join(HERE, "data", "syms_target.c")


def _kallsyms_entry(name: str) -> int:
    with open("/proc/kallsyms") as f:
        for line in f:
            addr, kind, sym = line.split()[:3]
            if sym == name and kind in "tT":
                return int(addr, 16)
    pytest.fail(f"{name} not in /proc/kallsyms")


@pytest.mark.kernel
def test_kernel_function_and_offset():
    addr = _kallsyms_entry("do_sys_openat2")
    with Symbolizer(cache=False) as s:
        sym = s.kernel(addr + 7)
        assert (sym.name, sym.offset, sym.module) == ("do_sys_openat2", 7, "")
        assert s.kernel_address("do_sys_openat2") == addr
        assert s.resolve(addr) == Symbol(addr, "do_sys_openat2", 0, "")
        assert sym.format(offset=True) == "do_sys_openat2+0x7"
        assert s.kernel_address("no_such_function_pybpf") is None


def test_a_name_is_looked_up_alike_by_search_and_by_dict(tmp_path, monkeypatch):
    """address(): the first lookups search the names, later ones use a dict of them all;
    both give the lowest address of a name (a static function twice, a module's and the
    kernel's), None for a name that is absent or only a prefix or suffix of one."""
    from pybpf.syms import kernel
    fake = tmp_path / "kallsyms"
    fake.write_text("ffffffff81000100 T first_fn\n"
                    "ffffffff81000200 t twice\n"
                    "ffffffff81000300 T vfs_read\n"
                    "ffffffff81000080 d some_data\n"
                    "ffffffff81000400 t twice\n"
                    "ffffffffc0000000 t mod_fn\t[dummy]\n"
                    "ffffffffc0000100 T vfs_read_iter\t[dummy]\n"
                    "ffffffffc0000200 t last_fn\t[dummy]\n")
    names = ["first_fn", "twice", "vfs_read", "vfs_read_iter", "mod_fn", "last_fn",
             "some_data", "vfs", "read", "fs_read", "", "twice\nvfs_read", "nope"]
    want = {"first_fn": 0xffffffff81000100, "twice": 0xffffffff81000200,
            "vfs_read": 0xffffffff81000300, "vfs_read_iter": 0xffffffffc0000100,
            "mod_fn": 0xffffffffc0000000, "last_fn": 0xffffffffc0000200}
    searched = KernelSymbols(str(fake), cache=False)
    assert [searched.address(n) for n in names] == [want.get(n) for n in names]
    assert searched._by_name is None                    # no dict for a few lookups
    monkeypatch.setattr(kernel, "_FINDS", 0)
    by_dict = KernelSymbols(str(fake), cache=False)
    assert [by_dict.address(n) for n in names] == [want.get(n) for n in names]
    assert by_dict._by_name is not None


@pytest.mark.kernel
def test_index_is_cached_per_boot_and_damage_is_a_miss(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    addr = _kallsyms_entry("vfs_read")
    first = KernelSymbols()
    assert first.resolve(addr + 1) == ("vfs_read", 1, "")
    # a second reader takes the index from the cache: kallsyms is not parsed again
    monkeypatch.setattr(KernelSymbols, "_parse", lambda self: pytest.fail("parsed again"))
    again = KernelSymbols()
    assert again.resolve(addr + 1) == ("vfs_read", 1, "")
    assert len(again) == len(first)
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    # a damaged entry (truncated) is a miss: rebuilt, same answers
    from pybpf.cache import Cache, record_key
    entry = Cache.default().path_for(record_key(KernelSymbols()._cache_key()))
    with open(entry, "r+b") as f:
        f.truncate(os.path.getsize(entry) // 2)
    assert KernelSymbols().resolve(addr + 1) == ("vfs_read", 1, "")


@pytest.mark.kernel
def test_bpf_program_resolves_to_its_kallsyms_name():
    from pybpf.programs import Program, ProgramSpec
    from pybpf._sys.uapi import ProgType
    from pybpf import info
    code = struct.pack("<BBhi", 0xB7, 0, 0, 1) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    with Program.load(ProgramSpec("pt_symsprog", ProgType.SOCKET_FILTER, code)) as prog:
        tag = info.prog_info(prog.fd.fileno() if hasattr(prog.fd, "fileno") else prog.fd).tag
        name = f"bpf_prog_{tag}_pt_symsprog"
        addr = _kallsyms_entry(name)
        with Symbolizer() as s:
            sym = s.kernel(addr + 2)
            assert (sym.name, sym.offset, sym.module) == (name, 2, "bpf")


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> str:
    exe = str(tmp_path_factory.mktemp("syms") / "syms_target")
    subprocess.run(["gcc", "-g", "-O2", "-o", exe, TARGET_C], check=True)
    return exe


class Running:
    """The target running (until stdin closes), with the addresses it printed."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.values = {}
        for _ in range(3):
            key, val = self.proc.stdout.readline().split()
            self.values[key] = int(val, 0)
        # the process that printed them: with a wrapper (unshare) it is a child
        self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _leaf_pid(pid: int) -> int:
    """The innermost descendant of ``pid`` (unshare forks the target)."""
    while True:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                kids = f.read().split()
        except OSError:
            return pid
        if not kids:
            return pid
        pid = int(kids[0])


@pytest.mark.kernel
def test_user_function_file_line_and_inlined_frame(target):
    run = Running([target])
    try:
        plain, outer, call_line = (run.values[k] for k in ("plain", "outer", "call_line"))
        with Symbolizer(lines=True) as s:
            sym = s.user(run.pid, plain + 1)
            assert (sym.name, sym.offset, sym.module) == ("pybpf_syms_plain", 1, target)
            assert (os.path.basename(sym.file), sym.line) == ("syms_target.c", 11)
            # just past outer's entry the code is the inlined callee's
            sym = s.user(run.pid, outer + 1)
            assert (sym.name, sym.offset) == ("pybpf_syms_outer", 1)
            assert sym.line == call_line                        # where it was inlined
            assert [f.name for f in sym.inlined] == ["pybpf_syms_inner"]
            assert sym.inlined[0].inlined and 15 <= sym.inlined[0].line <= 18
            text = frames(sym, outer + 1, offset=True, module=False)
            assert text[0].startswith("pybpf_syms_inner (") and text[0].endswith("(inlined)")
            assert text[1] == f"pybpf_syms_outer+0x1 ({sym.file}:{call_line})"
            # a libc function of the same process: the mapping is found, the name is libc's
            import ctypes
            read = ctypes.cast(ctypes.CDLL(None).read, ctypes.c_void_p).value
            me = s.user(os.getpid(), read)
            assert me is not None and "libc.so" in me.module and me.offset == 0
            assert s.resolve(plain, pid=None) is None           # user address, no pid
    finally:
        run.stop()


@pytest.mark.parametrize("cc", ["gcc", "clang-19"])
def test_a_units_own_line_table_answers_as_the_whole_one(tmp_path, cc):
    """line() decodes only the line program of the unit holding the address (found by
    .debug_aranges, which gcc writes, or by the units' ranges, clang's case): every row of
    the whole table gives the same answer."""
    from pybpf.syms.dwarf import DebugInfo
    exe = str(tmp_path / "t")
    subprocess.run([cc, "-g", "-O2", "-o", exe, TARGET_C], check=True)
    with DebugInfo(exe) as d:
        d._lines()
        rows = list(d._rows)
        assert len(rows) > 10
        for a, end, file, line in rows:
            assert d.line(a) == d.line(end - 1) == (file, line)
        assert d._cu_rows            # answered from a unit's own table


@pytest.mark.kernel
def test_addresses_resolve_after_the_binary_is_deleted(target, tmp_path):
    exe = str(tmp_path / "deleted_target")
    shutil.copy(target, exe)
    run = Running([exe])
    try:
        os.unlink(exe)
        with Symbolizer() as s:
            sym = s.user(run.pid, run.values["plain"] + 3)
            assert (sym.name, sym.offset, sym.module) == ("pybpf_syms_plain", 3, exe)
    finally:
        run.stop()


@pytest.mark.kernel
def test_binary_only_visible_in_another_mount_namespace(target, tmp_path):
    """A container's binary: its path exists only in the process's mount namespace."""
    mnt = tmp_path / "ns"
    mnt.mkdir()
    script = (f"mount -t tmpfs pybpf-syms {mnt} && cp {target} {mnt}/inner && "
              f"exec {mnt}/inner")
    run = Running(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    try:
        assert not os.path.exists(f"{mnt}/inner")            # not in our namespace
        pid = _leaf_pid(run.pid)
        with Symbolizer() as s:
            sym = s.user(pid, run.values["plain"])
            assert (sym.name, sym.offset, sym.module) == ("pybpf_syms_plain", 0,
                                                          f"{mnt}/inner")
    finally:
        run.stop()


@pytest.mark.kernel
def test_mappings_are_kept_for_a_process_that_has_exited(target):
    run = Running([target])
    with Symbolizer() as s:
        s.remember(run.pid)
        run.stop()
        # the mappings were read while it lived; the binary is still on disk
        sym = s.user(run.pid, run.values["plain"])
        assert sym.name == "pybpf_syms_plain"
        s.forget(run.pid)
        assert s.user(run.pid, run.values["plain"]) is None


@pytest.mark.kernel
def test_perf_map_of_a_jit(tmp_path):
    """A JIT's /tmp/perf-PID.map names code that no binary holds."""
    proc = subprocess.Popen(["sleep", "30"])
    path = f"/tmp/perf-{proc.pid}.map"
    try:
        with open(path, "x") as f:
            f.write("7f0000001000 40 jitted_function\n")
        with Symbolizer() as s:
            sym = s.user(proc.pid, 0x7F0000001010)
            assert (sym.name, sym.offset, sym.module) == ("jitted_function", 0x10,
                                                          "[perf-map]")
            assert s.user(proc.pid, 0x7F0000001040) is None
    finally:
        proc.kill()
        proc.wait()
        os.unlink(path)


@pytest.mark.kernel
def test_stripped_binary_resolves_through_its_debug_file(target, tmp_path):
    """A distribution-style split: the binary is stripped, its symbols and DWARF are in a
    separate file named by .gnu_debuglink; static functions and lines come from there."""
    exe, dbg = str(tmp_path / "split_target"), str(tmp_path / "split_target.debug")
    subprocess.run(["objcopy", "--only-keep-debug", target, dbg], check=True)
    subprocess.run(["strip", "--strip-all", "-o", exe, target], check=True)
    subprocess.run(["objcopy", f"--add-gnu-debuglink={dbg}", exe], cwd=tmp_path, check=True)
    run = Running([exe])
    try:
        with Symbolizer(lines=True) as s:
            sym = s.user(run.pid, run.values["plain"] + 1)
            assert (sym.name, sym.offset, sym.module) == ("pybpf_syms_plain", 1, exe)
            assert (os.path.basename(sym.file), sym.line) == ("syms_target.c", 11)
    finally:
        run.stop()
